// What the web app takes from the server's settings once signed in (customer roles): the raster tiles its
// maps may draw above the country outlines they ship with (MAP_TILE_URL).
import { Type } from '@sinclair/typebox';
import type { App } from '../../http/server.js';
import { tileAttribution } from '../../lib/map-tiles.js';
import { Nullable, Obj } from '../../lib/schema.js';

export interface UiSettings {
  mapTileUrl: string | undefined;
  mapTileAttribution: string | undefined;
}

export function registerUiSettingsRoutes(app: App, settings: UiSettings): void {
  const { mapTileUrl, mapTileAttribution } = settings;
  const answer = {
    map_tile_url: mapTileUrl ?? null,
    map_tile_attribution: mapTileUrl ? tileAttribution(mapTileUrl, mapTileAttribution) : null,
  };
  app.get(
    '/api/v2/ui-settings',
    {
      schema: {
        tags: ['api/v2'],
        summary: "The server's settings the web app follows: the raster tiles of its maps",
        response: {
          200: Obj({
            map_tile_url: Nullable(
              Type.String({
                description: 'MAP_TILE_URL: a tile URL template ({z}, {x}, {y}, {s}); null: country outlines only',
              }),
            ),
            map_tile_attribution: Nullable(Type.String({ description: 'the credit for the tiles, as plain text' })),
          }),
        },
      },
    },
    () => answer,
  );
}
