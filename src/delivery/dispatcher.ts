// The dispatcher role: every alert event on the bus (OPENED → OPEN, ACKNOWLEDGED, CLOSED) becomes one
// delivery job per matching route, idempotently (unique alert × route × event). Events are gathered per
// event-loop turn so a burst of thousands of alerts costs a few queries; at start, alert events of the
// last ALERT_LOOKBACK_MINUTES are dispatched again (existing jobs are kept), so a restart loses none.
// Only events still due are sent (eventStillDue): never an OPEN for an alert closed since, never an event
// older than its route.
// Over NATS, instances share one durable consumer: each event reaches one of them and is acknowledged
// once its jobs are committed.
// Every RENOTIFY_CHECK_SECONDS it also queues the follow-ups (repeats, escalations) that OPEN,
// unacknowledged alerts are due on routes asking for them; the job's notice key makes each one happen
// once however many dispatchers run.
import type { RoleDeps, RunningRole } from '../roles.js';
import type { DeliveryEvent } from '../channels/payload.js';
import type { ServiceTx } from '../db/database.js';
import { alertsByIds, buildPayload, openAlertsOf, recentAlertEvents } from '../model/alerts.js';
import { backfillTimes, insertJobs, type NewJob } from '../model/deliveries.js';
import { activeRoutes, eventStillDue, routeMatches, takeBackfillRoutes } from '../model/routes.js';
import { markSilenced, silenceMatches, silencesFor } from '../model/silences.js';
import { scopeMatcher } from '../model/device-selection.js';
import { dueFollowUps } from './follow-ups.js';
import { startCommandSender } from '../commands/sender.js';

const RETRY_MS = 2000;

/** Inserts planned jobs (those a silence holds as SILENCED, marking their alerts); counts what was new. */
async function queueJobs(tx: ServiceTx, planned: NewJob[]): Promise<{ queued: number; silenced: number }> {
  const silencedAlerts = new Map(planned.filter((job) => job.silence_id).map((job) => [job.alert_id, job.silence_id!]));
  await markSilenced(tx, silencedAlerts);
  // One insert, in the order planned: the alert's notifications are numbered in event order, held or not.
  return insertJobs(tx, planned);
}

/** Counts of what the dispatcher planned, for its health. */
interface PlanCounters {
  alerts_processed: number;
  routes_matched: number;
}

type ScopeError = (error: unknown, scope: { tenant_id: string }) => void;

/** A job for each route that matches each event, still due, and held where a silence covers it. */
async function planEventJobs(
  tx: ServiceTx,
  events: { alert_id: number; event: DeliveryEvent }[],
  counters: PlanCounters,
  scopeError: ScopeError,
): Promise<NewJob[]> {
  const alerts = new Map(
    (await alertsByIds(tx, [...new Set(events.map((e) => e.alert_id))])).map((a) => [a.alert_id, a]),
  );
  const tenants = [...new Set([...alerts.values()].map((alert) => alert.tenant_id))];
  const routes = tenants.length > 0 ? await activeRoutes(tx, { tenantIds: tenants }) : [];
  const earliest = Math.min(...[...alerts.values()].map((alert) => alert.created_at.getTime()));
  const silences = await silencesFor(tx, [...alerts.values()], new Date(earliest));
  const inScope = await scopeMatcher(tx, [...routes, ...silences], [...alerts.values()], scopeError);
  const planned: NewJob[] = [];
  for (const { alert_id, event } of events) {
    const alert = alerts.get(alert_id);
    if (!alert) continue;
    counters.alerts_processed += 1;
    const payload = buildPayload(alert, event);
    for (const route of routes) {
      if (route.tenant_id !== alert.tenant_id || !routeMatches(route, alert, event)) continue;
      // A route's selector picks the alerts it opens on, as their devices are then; the CLOSED of one it
      // notified follows wherever the device is now (one whose OPEN it never sent is set aside).
      const followsOpen = event !== 'OPEN' && route.deliver_on.includes('OPEN');
      if (!followsOpen && !inScope(route, alert)) continue;
      if (!eventStillDue(route, alert, event)) continue;
      counters.routes_matched += 1;
      // Held by a silence covering the moment it happened: kept, never sent (and never later).
      const silence = silences.find((s) => silenceMatches(s, alert, event) && inScope(s, alert));
      planned.push({
        tenant_id: alert.tenant_id,
        alert_id,
        integration_id: route.integration_id,
        route_id: route.route_id,
        deliver_on_event: event,
        payload_json: payload,
        silence_id: silence?.silence_id,
      });
    }
  }
  return planned;
}

/** The repeats and escalations due now on routes asking for them (ADR 022). */
async function planFollowUps(tx: ServiceTx, now: Date, scopeError: ScopeError): Promise<NewJob[]> {
  const planned: NewJob[] = [];
  const routes = await activeRoutes(tx, { followUpsOnly: true });
  if (routes.length === 0) return planned;
  const tenants = [...new Set(routes.map((route) => route.tenant_id))];
  const alerts = await openAlertsOf(tx, tenants);
  const silences = await silencesFor(tx, alerts, now);
  const inScope = await scopeMatcher(tx, [...routes, ...silences], alerts, scopeError);
  const backfilled = await backfillTimes(tx, alerts);
  for (const alert of alerts) {
    for (const route of routes) {
      if (route.tenant_id !== alert.tenant_id || !routeMatches(route, alert, 'OPEN') || !inScope(route, alert))
        continue;
      // Counted from the route's backfill if it sent one; else only alerts newer than the route are due.
      const since =
        backfilled.get(`${alert.alert_id}\u0000${route.route_id}`) ??
        (eventStillDue(route, alert, 'OPEN') ? alert.created_at : undefined);
      if (!since) continue;
      // A follow-up happens now: a silence running now holds it.
      const silence = silences.find(
        (s) => silenceMatches(s, { ...alert, created_at: now }, 'OPEN') && inScope(s, alert),
      );
      for (const due of dueFollowUps(route, since, now)) {
        planned.push({
          tenant_id: alert.tenant_id,
          alert_id: alert.alert_id,
          integration_id: due.integration_id,
          route_id: route.route_id,
          deliver_on_event: 'OPEN',
          payload_json: { ...buildPayload(alert, 'OPEN'), notice: due.notice },
          silence_id: silence?.silence_id,
          notice: due.key,
        });
      }
    }
  }
  return planned;
}

/**
 * Routes created or changed since the last look get the OPEN alerts they now match, unacknowledged and
 * never silenced, once (ADR 025): as their OPEN job — the event's own identity, so an alert the route
 * already notified (or held) gets nothing — marked `notice: {kind: 'backfill'}`.
 */
async function planBackfill(tx: ServiceTx, now: Date, scopeError: ScopeError): Promise<NewJob[]> {
  const taken = await takeBackfillRoutes(tx);
  if (taken.length === 0) return [];
  const tenants = [...new Set(taken.map((route) => route.tenant_id))];
  const ids = new Set(taken.map((route) => route.route_id));
  const routes = (await activeRoutes(tx, { tenantIds: tenants })).filter((route) => ids.has(route.route_id));
  const alerts = routes.length > 0 ? await openAlertsOf(tx, tenants, true) : [];
  const silences = await silencesFor(tx, alerts, now);
  const inScope = await scopeMatcher(tx, [...routes, ...silences], alerts, scopeError);
  const planned: NewJob[] = [];
  for (const alert of alerts) {
    const silence = silences.find((s) => silenceMatches(s, { ...alert, created_at: now }, 'OPEN') && inScope(s, alert));
    for (const route of routes) {
      if (route.tenant_id !== alert.tenant_id || !routeMatches(route, alert, 'OPEN') || !inScope(route, alert))
        continue;
      planned.push({
        tenant_id: alert.tenant_id,
        alert_id: alert.alert_id,
        integration_id: route.integration_id,
        route_id: route.route_id,
        deliver_on_event: 'OPEN',
        payload_json: { ...buildPayload(alert, 'OPEN'), notice: { kind: 'backfill' } },
        silence_id: silence?.silence_id,
      });
    }
  }
  return planned;
}

export async function start(deps: RoleDeps): Promise<RunningRole> {
  const { db, bus, log } = deps;
  const counters = {
    events_received: 0,
    alerts_processed: 0,
    routes_matched: 0,
    jobs_queued: 0,
    notifications_silenced: 0,
    follow_ups_queued: 0,
    dispatch_failures: 0,
  };
  let lastDispatchAt: Date | null = null;
  type Queued = { alert_id: number; event: DeliveryEvent; dispatched?: () => void };
  let queued: Queued[] = [];
  let flushing: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retrying = false;
  let stopped = false;

  const scopeError = (error: unknown, scope: { tenant_id: string }) =>
    log.error(
      { err: error, tenant_id: scope.tenant_id },
      "could not read a route's or silence's selector: it picks nothing",
    );

  async function dispatch(events: Queued[]): Promise<void> {
    const jobs = await db.withService(async (tx) => {
      const planned = await planEventJobs(tx, events, counters, scopeError);
      const { queued, silenced } = await queueJobs(tx, planned);
      counters.notifications_silenced += silenced;
      return queued;
    });
    counters.jobs_queued += jobs;
    lastDispatchAt = new Date();
    for (const queuedEvent of events) queuedEvent.dispatched?.();
    if (jobs > 0) bus.publish('delivery.queued', { jobs });
  }

  /** Dispatches what is queued; on a database error keeps it and tries again shortly. */
  function flush(): Promise<void> {
    if (flushing || stopped) return flushing ?? Promise.resolve();
    const events = queued;
    queued = [];
    if (events.length === 0) return Promise.resolve();
    flushing = dispatch(events)
      .catch((error: unknown) => {
        counters.dispatch_failures += 1;
        log.warn({ err: error, events: events.length }, 'could not queue deliveries; retrying');
        queued = [...events, ...queued];
        retrying = true;
        retryTimer = setTimeout(() => {
          retrying = false;
          void flush();
        }, RETRY_MS);
      })
      .finally(() => {
        flushing = undefined;
        if (queued.length > 0 && !retrying) setImmediate(() => void flush());
      });
    return flushing;
  }

  /** Resolves when the event's jobs are committed. */
  const enqueue = (alert_id: number, event: DeliveryEvent) =>
    new Promise<void>((dispatched) => {
      counters.events_received += 1;
      if (queued.push({ alert_id, event, dispatched }) === 1) setImmediate(() => void flush());
    });

  const consumption = await bus.consume('alert.changed', 'dispatcher', async ({ event, alert_id }) => {
    if (event === 'OPENED') await enqueue(alert_id, 'OPEN');
    else if (event === 'ACKNOWLEDGED' || event === 'CLOSED') await enqueue(alert_id, event);
  });

  /** Queues the repeats and escalations due now (ADR 022). */
  async function followUp(): Promise<void> {
    const now = new Date();
    const { queued, silenced } = await db.withService(async (tx) => {
      const planned = [...(await planBackfill(tx, now, scopeError)), ...(await planFollowUps(tx, now, scopeError))];
      return queueJobs(tx, planned);
    });
    counters.follow_ups_queued += queued;
    counters.notifications_silenced += silenced;
    if (queued > 0) bus.publish('delivery.queued', { jobs: queued });
  }
  let followingUp = false;
  const followUpTimer = setInterval(() => {
    if (followingUp || stopped) return;
    followingUp = true;
    followUp()
      .catch((error: unknown) => log.warn({ err: error }, 'could not queue repeats and escalations; trying again'))
      .finally(() => (followingUp = false));
  }, deps.config.RENOTIFY_CHECK_SECONDS * 1000);
  followUpTimer.unref();

  const catchUp = db
    .withService((tx) => recentAlertEvents(tx, deps.config.ALERT_LOOKBACK_MINUTES))
    .then((events) => {
      for (const { alert_id, event } of events) void enqueue(alert_id, event);
    })
    .catch((error: unknown) =>
      log.warn({ err: error }, 'dispatcher catch-up failed; new alert events are still dispatched'),
    );

  // What goes out to devices — commands, configuration, fleet jobs — is the dispatcher's too (ADR 027).
  const sender = await startCommandSender(deps);

  return {
    name: 'dispatcher',
    health: () => ({
      status: counters.dispatch_failures > 0 && lastDispatchAt === null ? 'degraded' : 'ok',
      service: 'dispatcher',
      counters: { ...counters, queue_depth: queued.length },
      last_dispatch_at: lastDispatchAt?.toISOString() ?? null,
      commands: sender.health(),
    }),
    async pollNow() {
      await catchUp;
      await flush();
      await followUp();
      await sender.sweepNow();
    },
    async stop() {
      await sender.stop();
      await consumption.stop();
      await catchUp;
      await flush();
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(followUpTimer);
    },
  };
}
