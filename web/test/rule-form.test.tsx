// @vitest-environment happy-dom
// The alert rule form sends what was typed and shows the API's validation message inline.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RuleForm } from '../src/pages/customer/Rules';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderForm(answer: { status: number; body: unknown }) {
  const requests: { url: string; body: unknown; method: string }[] = [];
  vi.stubGlobal('fetch', async (request: Request) => {
    requests.push({ url: new URL(request.url).pathname, method: request.method, body: await request.json() });
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json' },
    });
  });
  const done = vi.fn();
  render(
    <QueryClientProvider client={new QueryClient()}>
      <RuleForm rule={{}} onDone={done} />
    </QueryClientProvider>,
  );
  return { requests, done };
}

const fill = (label: string | RegExp, value: string) =>
  fireEvent.change(screen.getByLabelText(label), { target: { value } });

describe('RuleForm', () => {
  it('posts the rule with numbers, site list, duration and hysteresis, then closes', async () => {
    const { requests, done } = renderForm({ status: 201, body: { rule_id: 'r' } });
    fill('Name', 'Too hot');
    fill(/^Metric/, 'temp_c');
    fill('Threshold', '30.5');
    fill(/^Sites/, 'plant-1, plant-2');
    fill(/^Duration/, '60');
    fill(/^Hysteresis/, '1.5');
    fireEvent.click(screen.getByRole('button', { name: 'Save rule' }));
    await waitFor(() => expect(done).toHaveBeenCalled());
    expect(requests[0]).toMatchObject({
      url: '/customer/alert-rules',
      method: 'POST',
      body: {
        name: 'Too hot',
        metric_name: 'temp_c',
        operator: 'GT',
        threshold: 30.5,
        severity: 3,
        site_ids: ['plant-1', 'plant-2'],
        duration_seconds: 60,
        hysteresis: 1.5,
        enabled: true,
      },
    });
  });

  it("shows the API's message and stays open when the rule is refused", async () => {
    const { done } = renderForm({ status: 400, body: { detail: 'Invalid metric_name format' } });
    fill('Name', 'Bad');
    fill(/^Metric/, 'temp-c');
    fill('Threshold', '1');
    fireEvent.click(screen.getByRole('button', { name: 'Save rule' }));
    expect(await screen.findByRole('alert')).toHaveProperty(
      'textContent',
      expect.stringContaining('Invalid metric_name format'),
    );
    expect(done).not.toHaveBeenCalled();
  });

  it("passes on the API's warning about a metric no device has reported", async () => {
    const warning = 'No device has reported temprature yet, so this rule cannot fire until one does.';
    const { done } = renderForm({ status: 201, body: { rule_id: 'r', warning } });
    fill('Name', 'Typo');
    fill(/^Metric/, 'temprature');
    fill('Threshold', '30');
    fireEvent.click(screen.getByRole('button', { name: 'Save rule' }));
    await waitFor(() => expect(done).toHaveBeenCalledWith(warning));
  });
});
