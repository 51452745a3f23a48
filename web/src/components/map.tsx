// Maps on Leaflet, loaded only by the pages that show one: the fleet's last positions (clustered where
// dense) and a device's track. Their base layer is the country outlines the app ships with (Natural Earth
// through world-atlas, fetched from the app's own assets), so a map needs no network but Pulse; raster
// tiles go above them when the server names some (MAP_TILE_URL).
import { useQuery } from '@tanstack/react-query';
import type { FeatureCollection } from 'geojson';
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { useEffect, useMemo, useRef, useState, type RefObject } from 'react';
import { createPortal } from 'react-dom';
import Supercluster from 'supercluster';
import { feature } from 'topojson-client';
import countriesUrl from 'world-atlas/countries-110m.json?url';
import { api, unwrap } from '../lib/api';
import { dateTime, timeAgo } from '../lib/format';
import { flatOutlines } from '../lib/geo';
import type { Answer } from '../lib/types';
import { DEVICE_STATUS_COLOR, DeviceLink, StatusBadge } from './ui';
import './map.css';

type FleetDevice = Answer<'/api/v2/fleet/positions'>['devices'][number];
type TrackPoint = Answer<'/api/v2/devices/{device_id}/track'>['points'][number];

export const STATUSES = ['ONLINE', 'STALE', 'OFFLINE', 'REVOKED'] as const;
const OTHER_STATUS_COLOR = '#94a3b8';
const statusColor = (status: string) => DEVICE_STATUS_COLOR[status] ?? OTHER_STATUS_COLOR;

let outlines: Promise<FeatureCollection> | undefined;
/** The country outlines, fetched once for every map of the tab (again after a failure). */
function loadOutlines(): Promise<FeatureCollection> {
  outlines ??= fetch(countriesUrl)
    .then((response) => {
      if (!response.ok) throw new Error(`the country outlines did not load (${response.status})`);
      return response.json() as Promise<Parameters<typeof feature>[0]>;
    })
    .then((topology) => flatOutlines(feature(topology, 'countries') as unknown as FeatureCollection))
    .catch((error: unknown) => {
      outlines = undefined;
      throw error;
    });
  return outlines;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/**
 * A Leaflet map in `container` on the outlines, with the server's tiles above them when it names some;
 * null until it exists. Its container isolates Leaflet's z-indexes from the page's (the phone menu).
 */
function useBaseMap(container: RefObject<HTMLDivElement | null>): { map: L.Map | null; outlined: boolean } {
  const [map, setMap] = useState<L.Map | null>(null);
  const [outlined, setOutlined] = useState(false);
  const settings = useQuery({
    queryKey: ['ui-settings'],
    queryFn: () => unwrap(api.GET('/api/v2/ui-settings')),
    staleTime: Infinity,
  });
  useEffect(() => {
    const created = L.map(container.current!, { worldCopyJump: true, minZoom: 1 }).setView([30, 0], 2);
    // Below the tiles (z-index 200): the outlines show wherever tiles do not load.
    created.createPane('outlines').style.zIndex = '150';
    const dark = document.documentElement.classList.contains('dark');
    let removed = false;
    loadOutlines().then(
      (countries) => {
        if (removed) return;
        L.geoJSON(countries, {
          pane: 'outlines',
          interactive: false,
          attribution: 'Outlines: Natural Earth',
          style: {
            color: dark ? '#475569' : '#94a3b8',
            weight: 0.8,
            fillColor: dark ? '#1e293b' : '#f8fafc',
            fillOpacity: 1,
          },
        }).addTo(created);
        setOutlined(true);
      },
      (error: unknown) => console.warn((error as Error).message),
    );
    setMap(created);
    return () => {
      removed = true;
      created.remove();
      setMap(null);
      setOutlined(false);
    };
  }, [container]);
  const tileUrl = settings.data?.map_tile_url;
  const attribution = settings.data?.map_tile_attribution;
  useEffect(() => {
    if (!map || !tileUrl) return undefined;
    const tiles = L.tileLayer(tileUrl, { attribution: escapeHtml(attribution ?? ''), maxZoom: 19 }).addTo(map);
    return () => void tiles.remove();
  }, [map, tileUrl, attribution]);
  return { map, outlined };
}

function MapBox({
  container,
  outlined,
  className,
  testId,
}: {
  container: RefObject<HTMLDivElement | null>;
  outlined: boolean;
  className: string;
  testId: string;
}) {
  const dark = document.documentElement.classList.contains('dark');
  return (
    <div
      ref={container}
      className={`w-full rounded-lg ${className}`}
      // Inline: Leaflet's stylesheet sets the container's background after the app's.
      style={{ isolation: 'isolate', background: dark ? '#0f172a' : '#e0f2fe' }}
      data-testid={testId}
      data-outlines={outlined ? 'loaded' : 'loading'}
    />
  );
}

interface StatusCounts {
  ONLINE: number;
  STALE: number;
  OFFLINE: number;
  REVOKED: number;
  other: number;
}
const countOf = (status: string): StatusCounts => ({
  ONLINE: 0,
  STALE: 0,
  OFFLINE: 0,
  REVOKED: 0,
  other: 0,
  [(STATUSES as readonly string[]).includes(status) ? status : 'other']: 1,
});

/** A ring of the statuses in a cluster, each as its share of the devices. */
function statusRing(counts: StatusCounts, total: number): string {
  let from = 0;
  const stops = [...STATUSES, 'other' as const].flatMap((status) => {
    if (counts[status] === 0) return [];
    const to = from + (counts[status] / total) * 100;
    const stop = `${status === 'other' ? OTHER_STATUS_COLOR : statusColor(status)} ${from}% ${to}%`;
    from = to;
    return [stop];
  });
  return `conic-gradient(${stops.join(', ')})`;
}

function deviceIcon(device: FleetDevice): L.DivIcon {
  const dot = document.createElement('span');
  dot.className = 'block h-4 w-4 rounded-full border-2 border-white shadow-md';
  dot.style.background = statusColor(device.status);
  Object.assign(dot.dataset, { testid: 'map-device', device: device.device_id, status: device.status });
  return L.divIcon({ html: dot, className: '', iconSize: [16, 16] });
}

function clusterIcon(counts: StatusCounts, total: number): L.DivIcon {
  const size = total < 10 ? 32 : total < 100 ? 38 : 46;
  const ring = document.createElement('span');
  ring.className = 'grid h-full w-full place-items-center rounded-full shadow-md';
  ring.style.background = statusRing(counts, total);
  Object.assign(ring.dataset, { testid: 'map-cluster', count: String(total) });
  const label = document.createElement('span');
  label.className =
    'grid h-[70%] w-[70%] place-items-center rounded-full bg-white text-xs font-semibold text-slate-900 dark:bg-slate-900 dark:text-slate-100';
  label.textContent = String(total);
  ring.append(label);
  return L.divIcon({ html: ring, className: '', iconSize: [size, size] });
}

function clusterTitle(counts: StatusCounts, total: number): string {
  const parts = [...STATUSES, 'other' as const].filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  return `${total} devices (${parts.join(', ')}): zoom in`;
}

/** Every device at its last position, coloured by status; dense places as clusters that split when clicked. */
export function FleetMap({ devices }: { devices: FleetDevice[] }) {
  const container = useRef<HTMLDivElement>(null);
  const { map, outlined } = useBaseMap(container);
  const [selected, setSelected] = useState<string | null>(null);
  const popup = useMemo(() => {
    const content = document.createElement('div');
    return { content, layer: L.popup({ minWidth: 180, maxWidth: 260 }).setContent(content) };
  }, []);
  const index = useMemo(
    () =>
      new Supercluster<FleetDevice, StatusCounts>({
        radius: 48,
        maxZoom: 17,
        map: (device) => countOf(device.status),
        reduce: (total, counts) => {
          for (const key of Object.keys(total) as (keyof StatusCounts)[]) total[key] += counts[key];
        },
      }).load(
        devices.map((device) => ({
          type: 'Feature',
          geometry: { type: 'Point', coordinates: [device.lon, device.lat] },
          properties: device,
        })),
      ),
    [devices],
  );

  // Where the fleet is, once; later refreshes keep the user's view.
  const framed = useRef<L.Map | null>(null);
  useEffect(() => {
    if (!map || framed.current === map || devices.length === 0) return;
    framed.current = map;
    map.fitBounds(L.latLngBounds(devices.map((d) => [d.lat, d.lon])), { padding: [40, 40], maxZoom: 12 });
  }, [map, devices]);

  useEffect(() => {
    if (!map) return undefined;
    const markers = L.layerGroup().addTo(map);
    const draw = () => {
      markers.clearLayers();
      const view = map.getBounds();
      const items = index.getClusters(
        [view.getWest(), view.getSouth(), view.getEast(), view.getNorth()],
        Math.round(map.getZoom()),
      );
      for (const item of items) {
        const [lon, lat] = item.geometry.coordinates as [number, number];
        const { properties } = item;
        if ('cluster' in properties) {
          const total = properties.point_count;
          L.marker([lat, lon], { icon: clusterIcon(properties, total), title: clusterTitle(properties, total) })
            .on('click', () =>
              map.setView([lat, lon], Math.min(index.getClusterExpansionZoom(properties.cluster_id), map.getMaxZoom())),
            )
            .addTo(markers);
        } else {
          L.marker([lat, lon], {
            icon: deviceIcon(properties),
            title: `${properties.device_id} (${properties.status})`,
            riseOnHover: true,
          })
            .on('click', () => {
              setSelected(properties.device_id);
              popup.layer.setLatLng([lat, lon]).openOn(map);
            })
            .addTo(markers);
        }
      }
    };
    draw();
    map.on('moveend', draw);
    const closed = () => setSelected(null);
    map.on('popupclose', closed);
    return () => {
      map.off('moveend', draw);
      map.off('popupclose', closed);
      markers.remove();
    };
  }, [map, index, popup]);

  const shown = devices.find((device) => device.device_id === selected);
  // The popup measures its content when it opens: again once React has drawn it.
  useEffect(() => {
    if (shown) popup.layer.update();
  }, [shown, popup]);
  return (
    <>
      <MapBox container={container} outlined={outlined} className="h-[65vh] min-h-80" testId="fleet-map" />
      {shown && createPortal(<DevicePopup device={shown} />, popup.content)}
    </>
  );
}

function DevicePopup({ device }: { device: FleetDevice }) {
  return (
    <div className="space-y-1 text-sm" data-testid="map-popup">
      <div className="font-semibold">
        <DeviceLink deviceId={device.device_id} />
      </div>
      <div>
        Site <span className="font-medium">{device.site_id}</span>
      </div>
      <StatusBadge status={device.status} />
      <div className="text-xs text-slate-500" title={dateTime(device.at)}>
        Here {timeAgo(device.at)}
      </div>
    </div>
  );
}

/** A device's positions in order as a line, its first and last marked (one position as a point). */
export function TrackMap({ points }: { points: TrackPoint[] }) {
  const container = useRef<HTMLDivElement>(null);
  const { map, outlined } = useBaseMap(container);
  // Framed on the track once; new positions later keep the user's view.
  const framed = useRef<L.Map | null>(null);
  useEffect(() => {
    const first = points[0];
    const last = points.at(-1);
    if (!map || !first || !last) return undefined;
    const end = (point: TrackPoint, fill: string, label: string) =>
      L.circleMarker([point.lat, point.lon], {
        radius: 6,
        color: '#ffffff',
        weight: 2,
        fillColor: fill,
        fillOpacity: 1,
      }).bindTooltip(`${label} · ${escapeHtml(dateTime(point.time))}`);
    // One position is a point, not a line.
    const track = L.featureGroup(
      points.length === 1
        ? [end(last, '#6366f1', 'Here')]
        : [
            L.polyline(
              points.map((point) => [point.lat, point.lon]),
              { color: '#6366f1', weight: 3, className: 'track-line' },
            ),
            end(first, '#64748b', 'First'),
            end(last, '#6366f1', 'Last'),
          ],
    ).addTo(map);
    if (framed.current !== map) map.fitBounds(track.getBounds(), { padding: [24, 24], maxZoom: 15 });
    framed.current = map;
    return () => void track.remove();
  }, [map, points]);
  return <MapBox container={container} outlined={outlined} className="h-72" testId="track-map" />;
}
