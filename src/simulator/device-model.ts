// The simulated device of the original's simulator (docs/wire-contract.md#simulator): seven metrics drifting
// within bounds, a battery that drains with jitter and now and then recharges, and periodic uplink drops.
// Pure: randomness is passed in, so tests can seed it.
export type Random = () => number;

export interface DeviceModelSettings {
  batteryFloor: number;
  drainPerTelemetryMean: number;
  drainPerTelemetryJitter: number;
  rechargeChancePerTelemetry: number;
  rechargeBoostMin: number;
  rechargeBoostMax: number;
  /** pressure_psi, humidity_pct and vibration_g besides the four basic metrics. */
  extraMetrics: boolean;
}

export const defaultDeviceModelSettings: DeviceModelSettings = {
  batteryFloor: 10,
  drainPerTelemetryMean: 0.02,
  drainPerTelemetryJitter: 0.02,
  rechargeChancePerTelemetry: 0.002,
  rechargeBoostMin: 5,
  rechargeBoostMax: 15,
  extraMetrics: true,
};

export interface DeviceReadings {
  battery_pct: number;
  temp_c: number;
  rssi_dbm: number;
  snr_db: number;
  pressure_psi: number;
  humidity_pct: number;
  vibration_g: number;
}

const uniform = (random: Random, low: number, high: number) => low + (high - low) * random();
const randomInt = (random: Random, low: number, high: number) => Math.floor(uniform(random, low, high + 1));
const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export function initialReadings(random: Random): DeviceReadings {
  return {
    battery_pct: round(uniform(random, 70, 100), 2),
    temp_c: round(uniform(random, 20, 30), 2),
    rssi_dbm: randomInt(random, -115, -65),
    snr_db: round(uniform(random, -8, 18), 2),
    pressure_psi: round(uniform(random, 14, 50), 2),
    humidity_pct: round(uniform(random, 20, 95), 2),
    vibration_g: round(uniform(random, 0, 2), 3),
  };
}

/** The readings at the next telemetry message. */
export function nextReadings(previous: DeviceReadings, random: Random, settings: DeviceModelSettings): DeviceReadings {
  const { drainPerTelemetryMean: mean, drainPerTelemetryJitter: jitter } = settings;
  let battery = previous.battery_pct - uniform(random, Math.max(0, mean - jitter), mean + jitter);
  if (random() < settings.rechargeChancePerTelemetry) {
    battery += uniform(random, settings.rechargeBoostMin, settings.rechargeBoostMax);
  }
  const vibration =
    random() < 0.05 ? uniform(random, 5, 15) : clamp(previous.vibration_g + uniform(random, -0.3, 0.3), 0, 5);
  return {
    battery_pct: round(clamp(battery, settings.batteryFloor, 100), 2),
    temp_c: round(clamp(previous.temp_c + uniform(random, -0.25, 0.25), 10, 45), 2),
    rssi_dbm: clamp(previous.rssi_dbm + randomInt(random, -2, 2), -125, -50),
    snr_db: round(clamp(previous.snr_db + uniform(random, -0.7, 0.7), -20, 30), 2),
    pressure_psi: round(clamp(previous.pressure_psi + uniform(random, -0.5, 0.5), 10, 60), 2),
    humidity_pct: round(clamp(previous.humidity_pct + uniform(random, -1, 1), 10, 99), 2),
    vibration_g: round(vibration, 3),
  };
}

/** The `metrics` object of a telemetry message. */
export function telemetryMetrics(readings: DeviceReadings, extraMetrics: boolean): Record<string, number | boolean> {
  const basic = {
    battery_pct: readings.battery_pct,
    temp_c: readings.temp_c,
    rssi_dbm: readings.rssi_dbm,
    snr_db: readings.snr_db,
    uplink_ok: true,
  };
  if (!extraMetrics) return basic;
  return {
    ...basic,
    pressure_psi: readings.pressure_psi,
    humidity_pct: readings.humidity_pct,
    vibration_g: readings.vibration_g,
  };
}

export interface UplinkDrops {
  periodSeconds: number;
  durationSeconds: number;
}

/**
 * Whether a device's uplink is down at elapsedSeconds. Each device has its own phase so the fleet does not
 * go silent all at once (the original drops every device together, which makes the whole fleet flap).
 */
export function isUplinkDown(elapsedSeconds: number, phaseSeconds: number, drops: UplinkDrops): boolean {
  if (drops.periodSeconds <= 0 || drops.durationSeconds <= 0) return false;
  return (elapsedSeconds + phaseSeconds) % drops.periodSeconds < drops.durationSeconds;
}

export interface SleepSettings {
  /** One device in this many sleeps; 0: none. */
  everyNth: number;
  /** A sleepy device wakes once every this many seconds… */
  periodSeconds: number;
  /** …for this many. */
  awakeSeconds: number;
}

/** Whether a sleepy device is awake at elapsedSeconds; its phase spreads the fleet's wake-ups. */
export function isAwake(elapsedSeconds: number, phaseSeconds: number, sleep: SleepSettings): boolean {
  if (sleep.periodSeconds <= 0 || sleep.awakeSeconds >= sleep.periodSeconds) return true;
  return (elapsedSeconds + phaseSeconds) % sleep.periodSeconds < sleep.awakeSeconds;
}

/** Seeded PRNG (mulberry32) for reproducible simulations and tests. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
