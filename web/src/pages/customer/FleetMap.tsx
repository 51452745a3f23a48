import { useQuery } from '@tanstack/react-query';
import { FleetMap, STATUSES } from '../../components/map';
import { DEVICE_STATUS_COLOR, Empty, Loaded, Page } from '../../components/ui';
import { api, unwrap } from '../../lib/api';

/** Every device at its last position (the `position` metric), refreshed every 30 s. */
export default function FleetMapPage() {
  const positions = useQuery({
    queryKey: ['fleet-positions'],
    queryFn: () => unwrap(api.GET('/api/v2/fleet/positions')),
    refetchInterval: 30_000,
  });
  const devices = positions.data?.devices ?? [];
  return (
    <Page title="Map">
      <div className="card space-y-3 p-2 sm:p-3">
        <ul className="flex flex-wrap gap-x-4 gap-y-1 px-1 text-sm" aria-label="Legend" data-testid="map-legend">
          {STATUSES.map((status) => (
            <li key={status} className="flex items-center gap-1.5">
              <span className="h-3 w-3 rounded-full" style={{ background: DEVICE_STATUS_COLOR[status] }} aria-hidden />
              {status}{' '}
              <span className="text-slate-500 tabular-nums">
                {devices.filter((device) => device.status === status).length}
              </span>
            </li>
          ))}
        </ul>
        <Loaded query={positions} rows={8}>
          {() => (
            <>
              <FleetMap devices={devices} />
              {devices.length === 0 && <Empty>No device has sent a position yet.</Empty>}
            </>
          )}
        </Loaded>
      </div>
    </Page>
  );
}
