// The evaluator role: device health and alerts, as messages are stored (bus `telemetry.stored`).
// Devices are cut into partitions; each instance evaluates the partitions it owns (all of them in one
// process), restores their state from the database when it takes them, and acknowledges a stored-message
// event once what it decided from it is committed (ADR 015).
import { Gauge } from 'prom-client';
import { STORED_CONSUMER_GROUP, type Consumption } from '../bus/index.js';
import { partitionOf } from '../bus/partitions.js';
import type { RoleDeps, RunningRole } from '../roles.js';
import { EvaluatorEngine } from './engine.js';
import { EvaluatorStore } from './store.js';
import { loadDeviceStates } from '../model/device-state.js';
import { loadEnabledRules, loadRuleStates, rulesVersion, type Rule } from '../model/rules.js';
import { loadOpenAlerts } from '../model/alerts.js';
import { registryStatus } from '../model/device-registry.js';
import { scopeMembers } from '../model/device-selection.js';
import { narrow } from '../db/database.js';
import { debouncedTenants } from './debounce.js';

const RULES_POLL_MS = 500;
/** How long a burst of device changes is gathered before rules' selectors are read again. */
const RESCOPE_DELAY_MS = 500;
/**
 * Device states (last seen, latest metrics) are saved at least this often, and with every alert change.
 * Each save rewrites every device heard since the last one and acknowledges its stored-message events to
 * NATS: a fleet that reports every few seconds is rewritten whole each time. Live views have the WebSocket.
 */
const DEVICE_STATE_FLUSH_MS = 1000;

export async function start(deps: RoleDeps): Promise<RunningRole> {
  const { db, bus, log, config } = deps;
  const store = new EvaluatorStore(db, bus, log, DEVICE_STATE_FLUSH_MS, (found) => {
    for (const row of found) engine.storedSignOfLife(row.tenant_id, row.device_id, row.time, row.msg_type);
  });
  // The evaluator knows stored messages only; ingest holds a QoS 0 message up to FLUSH_INTERVAL_MS before
  // storing it, so a device is stale that much later than HEARTBEAT_STALE_SECONDS (ADR 009).
  const staleMs = config.HEARTBEAT_STALE_SECONDS * 1000 + config.FLUSH_INTERVAL_MS;
  const engine = new EvaluatorEngine(store, staleMs, Date.now, (error, context) =>
    log.error({ err: error, ...context }, 'evaluation failed'),
  );

  // Counters are read from the engine when Prometheus scrapes: one source of truth for /health and /metrics.
  const counterGauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [deps.metrics],
      collect() {
        this.set(read());
      },
    });
  counterGauge(
    'pulse_evaluator_rules_evaluated',
    'Rule evaluations since start',
    () => engine.counters.rules_evaluated,
  );
  counterGauge(
    'pulse_evaluator_alerts_opened',
    'Alerts opened since start (updates not counted)',
    () => engine.counters.alerts_opened,
  );
  counterGauge('pulse_evaluator_alerts_closed', 'Alerts closed since start', () => engine.counters.alerts_closed);
  counterGauge('pulse_evaluator_errors', 'Evaluations that threw', () => engine.counters.evaluation_errors);
  counterGauge(
    'pulse_evaluator_timer_lateness_ms',
    'How late the last stale deadline fired',
    () => engine.timers.lastLatenessMs,
  );
  counterGauge('pulse_evaluator_devices', 'Devices held in memory', () => engine.deviceCount);
  counterGauge(
    'pulse_evaluator_duplicate_opens',
    'Alerts this instance opened that were already open (a partition handover); the unique index made them updates',
    () => store.stats.duplicateOpens,
  );

  /** Each scoped rule's members as last read: kept when a later read fails, so no alert closes for that. */
  const lastMembers = new Map<string, ReadonlySet<string>>();
  /**
   * The rules, each with a selector given the devices it picks now. A selector that cannot be read (written
   * by hand in SQL, say) keeps the members last read, or picks none, said in the log: one rule never stops
   * the others.
   */
  const scoped = async (rules: Rule[]) => {
    const result: Rule[] = [];
    for (const rule of rules) {
      if (!rule.selector) {
        result.push(rule);
        continue;
      }
      const members = await db
        .withService(async (tx) => new Set(await scopeMembers(narrow(tx, rule.tenant_id), rule.selector!)))
        .catch((error: unknown) => {
          log.error(
            { err: error, tenant_id: rule.tenant_id, rule_id: rule.rule_id },
            "could not read a rule's selector",
          );
          return lastMembers.get(rule.rule_id) ?? new Set<string>();
        });
      lastMembers.set(rule.rule_id, members);
      result.push({ ...rule, members });
    }
    return result;
  };
  // Reloads and rescopes take turns, each applying the rules as they are when it runs: a slow rescope
  // never puts back a rule a reload has just removed.
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(step: () => Promise<T>): Promise<T> => {
    const next = turn.then(step);
    turn = next.catch(() => undefined);
    return next;
  };

  const initial = await db.withService(loadEnabledRules);
  let rules = initial.rules;
  engine.restore({ devices: [], openAlerts: [], rules: await scoped(rules), ruleStates: [] });
  let version = initial.version;
  let scopesReadAt = Date.now();

  const applyRules = (scopedRules: Rule[], tenants = engine.tenantsWithRules()) => {
    const byTenant = new Map<string, Rule[]>(tenants.map((tenant) => [tenant, []]));
    for (const rule of scopedRules) byTenant.set(rule.tenant_id, [...(byTenant.get(rule.tenant_id) ?? []), rule]);
    for (const [tenant, tenantRules] of byTenant) engine.setRules(tenant, tenantRules);
  };
  // A device's tags, attributes or site changed (device.changed): the selectors of its tenant's rules are
  // read again, once for a burst of changes (a CSV import announces every device).
  const rescope = debouncedTenants(
    RESCOPE_DELAY_MS,
    (tenants) =>
      inTurn(async () => {
        const current = rules.filter((rule) => tenants.has(rule.tenant_id));
        if (current.some((rule) => rule.selector)) applyRules(await scoped(current), [...tenants]);
      }),
    (error) => log.warn({ err: error }, "could not read rules' selectors again"),
  );
  // Rules change through the API or by hand in SQL; a trigger bumps the version, watched here.
  let reloading = false;
  const rulesTimer = setInterval(() => {
    if (reloading) return;
    reloading = true;
    inTurn(async () => {
      const current = await db.withService(rulesVersion);
      if (current === version) {
        // A device change nobody announced (made in SQL, or while the bus was down) reaches the scopes too.
        if (Date.now() - scopesReadAt < config.EVALUATOR_SCOPE_REFRESH_SECONDS * 1000) return;
        scopesReadAt = Date.now();
        if (rules.some((rule) => rule.selector)) applyRules(await scoped(rules));
        return;
      }
      const loaded = await db.withService(loadEnabledRules);
      const scopedRules = await scoped(loaded.rules);
      [version, rules, scopesReadAt] = [loaded.version, loaded.rules, Date.now()];
      applyRules(scopedRules);
      log.info({ rules: loaded.rules.length, version }, 'alert rules reloaded');
    })
      .catch((error: unknown) => log.warn({ err: error }, 'could not check alert rules'))
      .finally(() => (reloading = false));
  }, RULES_POLL_MS);
  rulesTimer.unref();

  const consumptions = new Map<number, Consumption>();
  const inPartitions = (partitions: number[]) => {
    const set = new Set(partitions);
    return (tenantId: string, deviceId: string) => set.has(partitionOf(tenantId, deviceId, bus.partitions));
  };
  const ownership = await bus.own(STORED_CONSUMER_GROUP, {
    async acquire(partitions) {
      const owns = inPartitions(partitions);
      const mine = <T extends { tenant_id: string; device_id: string }>(rows: T[]) =>
        rows.filter((row) => owns(row.tenant_id, row.device_id));
      engine.restore(
        {
          devices: mine(await db.withService(loadDeviceStates)),
          openAlerts: mine(await db.withService(loadOpenAlerts)),
          ruleStates: mine(await db.withService(loadRuleStates)),
        },
        // Our downtime (or a handover) is not the devices' fault: a device whose deadline passed while
        // nobody evaluated it gets one full period from now for its messages to arrive.
        Date.now() + staleMs,
      );
      for (const partition of partitions) {
        const consumption = await bus.consume(
          'telemetry.stored',
          STORED_CONSUMER_GROUP,
          (messages) => {
            engine.onMessages(messages);
            return store.committed();
          },
          partition,
        );
        consumptions.set(partition, consumption);
      }
    },
    async release(partitions) {
      for (const partition of partitions) {
        await consumptions.get(partition)?.stop();
        consumptions.delete(partition);
      }
      await store.flush();
      engine.forget(inPartitions(partitions));
    },
  });

  const unsubscribers = [
    bus.subscribe('device.changed', async ({ tenant_id, device_id }) => {
      if (rules.some((rule) => rule.selector && rule.tenant_id === tenant_id)) rescope.add(tenant_id);
      // A bulk registration announces thousands of devices the evaluator has never seen: no query for those.
      if (!engine.device(tenant_id, device_id)) return;
      const status = await db.withService((tx) => registryStatus(tx, tenant_id, device_id));
      engine.setRevoked(tenant_id, device_id, status === 'REVOKED');
    }),
    bus.subscribe('alert.changed', ({ event, tenant_id, fingerprint }) => {
      if (event === 'CLOSED') engine.alertClosed(tenant_id, fingerprint);
    }),
  ];

  return {
    name: 'evaluator',
    health: () => ({
      status: store.stats.failures > 0 && store.stats.flushes === 0 ? 'degraded' : 'ok',
      service: 'evaluator',
      counters: { ...engine.counters },
      // The alert_rules_version this instance evaluates with: a rule changed in SQL is in force once this reaches it.
      rules_version: version,
      devices: engine.deviceCount,
      stale_timers: engine.timers.size,
      timer_lateness_ms: engine.timers.lastLatenessMs,
      last_flush_ms: store.stats.lastFlushMs,
      duplicate_opens: store.stats.duplicateOpens,
      partitions: { total: bus.partitions, owned: ownership.owned() },
    }),
    async pollNow() {
      engine.timers.tick();
      // The second flush takes what was decided while the first (perhaps already under way) ran.
      await store.flush();
      await store.flush();
    },
    async stop() {
      for (const unsubscribe of unsubscribers) unsubscribe();
      await ownership.stop();
      clearInterval(rulesTimer);
      await rescope.stop();
      engine.stop();
      await store.stop();
    },
  };
}
