// Firmware updates as people read them: the tenant's images, which one a firmware_update command (or a
// firmware job) sends, and how far a device got through the steps it reports, DOWNLOADING to UPDATED.
import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../lib/api';
import { byteSize, dateTime } from '../lib/format';
import type { FirmwareImage } from '../lib/types';

/** The command a firmware job sends each device (the API's FIRMWARE_COMMAND). */
export const FIRMWARE_COMMAND = 'firmware_update';

/** The steps a device reports on its way (FAILED ends it anywhere); UPDATED is the last. */
const STEPS = ['DOWNLOADING', 'DOWNLOADED', 'VERIFIED', 'UPDATING', 'UPDATED'] as const;
/** How a command, or a job's device, ends without success. */
const UNSUCCESSFUL = ['FAILED', 'EXPIRED', 'TIMED_OUT', 'CANCELED'];

export const FIRMWARE_IMAGES_KEY = ['firmware'];

/** The tenant's images, newest first: the Firmware page lists them, the job form picks one. */
export const useFirmwareImages = () =>
  useQuery({
    queryKey: FIRMWARE_IMAGES_KEY,
    queryFn: () => unwrap(api.GET('/customer/firmware')),
  });

/** "2.4.1 for P-100", or "2.4.1 for every model". */
export const imageLabel = ({ version, model }: Pick<FirmwareImage, 'version' | 'model'>) =>
  `${version} for ${model ?? 'every model'}`;

/** "2.4.1 for P-100 · 1.5 MiB": the image a firmware_update command's (or a firmware job's) params name. */
export function sentImageName(params: unknown): string {
  const { version, model, size } = (params ?? {}) as { version?: unknown; model?: unknown; size?: unknown };
  const label = imageLabel({
    version: typeof version === 'string' ? version : '?',
    model: typeof model === 'string' ? model : null,
  });
  return typeof size === 'number' ? `${label} · ${byteSize(size)}` : label;
}

/**
 * The steps as a bar with the last one reached in words. `progress` is the last step the device reported
 * (the server keeps it when UPDATED ends the update), `state` the command's or the job device's.
 */
export function FirmwareProgress({
  progress,
  state,
  at,
}: {
  progress: string | null;
  state: string;
  at?: string | null;
}) {
  const succeeded = state === 'SUCCEEDED';
  const failed = UNSUCCESSFUL.includes(state);
  const reached = succeeded ? STEPS.length - 1 : STEPS.indexOf(progress as (typeof STEPS)[number]);
  const words = succeeded
    ? 'UPDATED'
    : failed
      ? progress
        ? `${state} after ${progress}`
        : state
      : (progress ?? 'not started');
  const tone = succeeded ? 'bg-emerald-500' : failed ? 'bg-rose-500' : 'bg-sky-500';
  return (
    <div className="min-w-28" data-testid="firmware-progress" data-step={succeeded ? 'UPDATED' : (progress ?? '')}>
      <div className="flex gap-0.5" role="img" aria-label={`Firmware update: ${words}`}>
        {STEPS.map((step, index) => (
          <span
            key={step}
            title={step}
            className={`h-1.5 flex-1 rounded-full ${index <= reached ? tone : 'bg-slate-200 dark:bg-slate-700'}`}
          />
        ))}
      </div>
      <div className="mt-1 text-xs whitespace-nowrap" title={at ? dateTime(at) : undefined}>
        {words}
      </div>
    </div>
  );
}
