// What every component (a role, the database, the bus, the broker) reports at GET /health.

export type ComponentStatus = 'ok' | 'degraded' | 'down';

export interface ComponentHealth {
  status: ComponentStatus;
  [detail: string]: unknown;
}

export type HealthCheck = () => ComponentHealth | Promise<ComponentHealth>;
