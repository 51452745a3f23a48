// Placeholder until the dashboards land: shows what /health reports, so a first run shows something real.
import './style.css';

interface Health {
  status: string;
  components: Record<string, { status: string }>;
}

const statusLine = document.querySelector<HTMLParagraphElement>('#status')!;
const list = document.querySelector<HTMLUListElement>('#components')!;

async function refresh() {
  try {
    const response = await fetch('/health');
    const health = (await response.json()) as Health;
    statusLine.textContent = `Platform status: ${health.status}. The dashboards are on their way; the provisioning API is live.`;
    list.replaceChildren(
      ...Object.entries(health.components).map(([name, component]) => {
        const item = document.createElement('li');
        item.textContent = `${name}: ${component.status}`;
        item.dataset.status = component.status;
        return item;
      }),
    );
  } catch {
    statusLine.textContent = 'Pulse is not answering; is `npm start` still running?';
  }
}

void refresh();
setInterval(() => void refresh(), 5000);
