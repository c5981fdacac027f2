/**
 * Connecting to the NATS server that carries a sweep's work queue and, by default, its artifact
 * store. The address comes from `--queue` or CT_QUEUE_URL and credentials from the URL's user
 * part or CT_QUEUE_USER / CT_QUEUE_PASSWORD / CT_QUEUE_TOKEN; they live in this process only and
 * are never written anywhere (a job, a manifest, a run directory): `describeQueue` is what
 * messages show.
 */
import { ConfigError, RuntimeError } from '@circuit-tuning/contracts';
import { connect, type ConnectionOptions, type NatsConnection } from 'nats';

/** The queue's address: the flag, else CT_QUEUE_URL. */
export function queueUrl(flag: string | undefined, option = '--queue'): string {
  const url = flag ?? process.env.CT_QUEUE_URL;
  if (url === undefined || url === '') throw new ConfigError(`${option}: no queue given`, { hint: `give ${option} nats://HOST:4222 or set CT_QUEUE_URL` });
  return url;
}

/** The address without user, password or token, for messages. */
export function describeQueue(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(an unparsable address)';
  }
}

export async function connectQueue(url: string, options: { name?: string; timeoutMs?: number } = {}): Promise<NatsConnection> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`--queue '${describeQueue(url)}': not a URL`, { hint: 'for example nats://127.0.0.1:4222' });
  }
  if (!['nats:', 'tls:'].includes(parsed.protocol)) throw new ConfigError(`--queue ${describeQueue(url)}: expected a nats:// (or tls://) address`);
  const auth: Partial<ConnectionOptions> = {};
  const user = parsed.username !== '' ? decodeURIComponent(parsed.username) : process.env.CT_QUEUE_USER;
  const password = parsed.password !== '' ? decodeURIComponent(parsed.password) : process.env.CT_QUEUE_PASSWORD;
  if (user !== undefined && password !== undefined) Object.assign(auth, { user, pass: password });
  else if (user !== undefined) auth.token = user;
  else if (process.env.CT_QUEUE_TOKEN !== undefined) auth.token = process.env.CT_QUEUE_TOKEN;
  try {
    return await connect({
      servers: `${parsed.protocol === 'tls:' ? 'tls' : 'nats'}://${parsed.host}`,
      ...auth,
      ...(parsed.protocol === 'tls:' ? { tls: {} } : {}),
      name: options.name ?? 'circuit-tuning',
      timeout: options.timeoutMs ?? 10_000,
      maxReconnectAttempts: 30,
      reconnectTimeWait: 1000,
    });
  } catch (error) {
    throw new RuntimeError(`cannot reach the queue at ${describeQueue(url)}: ${(error as Error).message}`, {
      hint: 'check the address and the credentials (CT_QUEUE_USER, CT_QUEUE_PASSWORD, CT_QUEUE_TOKEN), and that it runs: `nats-server -js` (README, "Running a sweep over several machines")',
    });
  }
}
