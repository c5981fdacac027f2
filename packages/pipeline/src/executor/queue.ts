/**
 * The work queue of a sweep spread over machines, on NATS JetStream (why NATS: the README's
 * "Running a sweep over several machines"). Three things in the one server:
 *
 *   stream CT_TRIALS     (subjects ct.trials.<sweep>) work-queue retention: a job is removed
 *                        once a worker acknowledges it
 *   consumer ct-workers  the one durable pull consumer every worker takes from; explicit acks,
 *                        `ack_wait` after which an unacknowledged job (its worker died) is
 *                        delivered again, `max_deliver` deliveries at most
 *   bucket ct-trials     key-value, `<sweep>.<index>` → the trial's state (queued, running on
 *                        which host, retrying, succeeded, failed) for the sweep and --status
 *
 * A job carries what the trial needs and nothing of the machine that queued it: the pipeline
 * file's text (and path, used where the same file exists), its overrides and the trial's name.
 * No address or credential goes into a job or a state.
 *
 * Two kinds of job travel the same way and are run by the same workers: a sweep's trial (a whole
 * pipeline in its own run directory, collected from `runs/<sweep>/<index>`) and one step of a
 * `ct run --executor queue` (`step` set: a foreach member, run alone with its upstream steps taken
 * from the store, left in the store under `steps/<content key>`; step-jobs.ts).
 */
import { ConfigError, type ErrorKind } from '@circuit-tuning/contracts';
import { AckPolicy, type Consumer, type JsMsg, type KV, type NatsConnection, nanos, RetentionPolicy, StorageType } from 'nats';

export const TRIALS_STREAM = 'CT_TRIALS';
export const TRIALS_SUBJECT = 'ct.trials';
export const WORKERS_CONSUMER = 'ct-workers';
export const STATES_BUCKET = 'ct-trials';

export interface TrialJob {
  format: 'ct-trial-job/1';
  sweepId: string;
  index: number;
  name: string;
  pipeline: { path: string; text: string };
  /** Every override, the sweep's and the trial's grid values, as `run --set` takes them. */
  set: string[];
  values: Record<string, unknown>;
  /** The identity of the artifact store the sweep collects from (store/artifact-store.ts's storeIdentity). */
  storeId: string;
  /**
   * A step job: run only this step of the pipeline (the runner's `only`), and leave it in the store
   * under `steps/<contentKey>`, the key the coordinator computed from its inputs.
   */
  step?: { id: string; contentKey: string };
}

export type TrialStateName = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed';

export interface TrialState {
  sweepId: string;
  index: number;
  name: string;
  state: TrialStateName;
  /** Which delivery of the job this is (1 for the first). */
  attempt: number;
  host?: string;
  worker?: string;
  backend?: string;
  durationMs?: number;
  error?: string;
  /** The kind of the error (config: not retried), as the job's process reported it. */
  errorKind?: ErrorKind;
  /** A step job's content key: which computation this state is about (a rerun may queue another). */
  key?: string;
  updatedAt: string;
}

export interface QueueSettings {
  /** How long a job may go without an acknowledgement or a progress signal before it is delivered again. */
  ackWaitMs: number;
  /** Deliveries at most (the first and the retries). */
  maxDeliver: number;
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = { ackWaitMs: 60_000, maxDeliver: 5 };

export interface Queue {
  readonly settings: QueueSettings;
  /** Rereads the consumer's settings (a sweep may have changed them). */
  refresh(): Promise<QueueSettings>;
  enqueue(job: TrialJob): Promise<void>;
  /** The next job, or null when none came within `waitMs`. */
  take(waitMs: number): Promise<JsMsg | null>;
  setState(state: TrialState): Promise<void>;
  state(sweepId: string, index: number): Promise<TrialState | undefined>;
  /** Every trial state, of one sweep or of all. */
  states(sweepId?: string): Promise<TrialState[]>;
  /** Jobs waiting for a worker, delivered and not yet acknowledged, and delivered more than once. */
  counts(): Promise<{ waiting: number; inProgress: number; redelivered: number }>;
}

/** A sweep id: letters, digits, '-' and '_' (it is a subject token and a key prefix). */
export function sweepIdFor(name: string): string {
  const base = name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40) || 'sweep';
  return `${base}-${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
}

/**
 * Opens (creating what is missing) the stream, the consumer and the state bucket. A caller that
 * asks for settings (a sweep's --ack-wait, --max-deliver) gets them, the consumer updated if it
 * had others; a caller that asks for none (a worker) takes what is there, and rereads it before
 * each job (`refresh`), so its heartbeat follows a change.
 */
export async function openQueue(connection: NatsConnection, asked?: QueueSettings, warn: (message: string) => void = () => undefined): Promise<Queue> {
  const wanted = asked ?? DEFAULT_QUEUE_SETTINGS;
  const manager = await connection.jetstreamManager();
  const js = connection.jetstream();
  await manager.streams.info(TRIALS_STREAM).catch(async () =>
    manager.streams.add({ name: TRIALS_STREAM, subjects: [`${TRIALS_SUBJECT}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.File }),
  );
  const existing = await manager.consumers.info(TRIALS_STREAM, WORKERS_CONSUMER).catch(() => undefined);
  const read = (config: { ack_wait?: number; max_deliver?: number }): QueueSettings => ({
    ackWaitMs: Math.round((config.ack_wait ?? nanos(wanted.ackWaitMs)) / 1e6),
    maxDeliver: config.max_deliver ?? wanted.maxDeliver,
  });
  let info =
    existing ??
    (await manager.consumers.add(TRIALS_STREAM, {
      durable_name: WORKERS_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(wanted.ackWaitMs),
      max_deliver: wanted.maxDeliver,
      filter_subject: `${TRIALS_SUBJECT}.>`,
    }));
  const found = read(info.config);
  if (asked !== undefined && (found.ackWaitMs !== asked.ackWaitMs || found.maxDeliver !== asked.maxDeliver)) {
    info = await manager.consumers.update(TRIALS_STREAM, WORKERS_CONSUMER, { ack_wait: nanos(asked.ackWaitMs), max_deliver: asked.maxDeliver });
    warn(`the queue's terms changed from ack wait ${found.ackWaitMs / 1000} s, ${found.maxDeliver} deliveries to ${asked.ackWaitMs / 1000} s, ${asked.maxDeliver} (for every job on it)`);
  }
  let settings = read(info.config);
  const states: KV = await js.views.kv(STATES_BUCKET, { history: 1 });
  let consumer: Consumer | undefined;
  const key = (sweepId: string, index: number) => `${sweepId}.${index}`;
  const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as TrialState;
  return {
    get settings() {
      return settings;
    },
    async refresh() {
      settings = read((await manager.consumers.info(TRIALS_STREAM, WORKERS_CONSUMER)).config);
      return settings;
    },
    async enqueue(job) {
      await js.publish(`${TRIALS_SUBJECT}.${job.sweepId}`, new TextEncoder().encode(JSON.stringify(job)));
    },
    async take(waitMs) {
      consumer ??= await js.consumers.get(TRIALS_STREAM, WORKERS_CONSUMER);
      return consumer.next({ expires: Math.max(1000, waitMs) });
    },
    async setState(state) {
      await states.put(key(state.sweepId, state.index), new TextEncoder().encode(JSON.stringify(state)));
    },
    async state(sweepId, index) {
      const entry = await states.get(key(sweepId, index));
      return entry === null || entry.operation !== 'PUT' ? undefined : decode(entry.value);
    },
    async states(sweepId) {
      const out: TrialState[] = [];
      for (const k of await bucketKeys(connection, STATES_BUCKET, sweepId === undefined ? '>' : `${sweepId}.*`)) {
        const entry = await states.get(k);
        if (entry !== null && entry.operation === 'PUT') out.push(decode(entry.value));
      }
      return out.sort((a, b) => (a.sweepId === b.sweepId ? a.index - b.index : a.sweepId < b.sweepId ? -1 : 1));
    },
    async counts() {
      const c = await manager.consumers.info(TRIALS_STREAM, WORKERS_CONSUMER);
      return { waiting: c.num_pending, inProgress: c.num_ack_pending, redelivered: c.num_redelivered };
    },
  };
}

/**
 * The keys of a key-value bucket, from its stream's subjects. (The client's `keys()` walks an
 * ordered consumer and, against nats-server 2.9, was seen to end before the last key written a
 * moment earlier; the stream's own count of messages per subject does not miss one.) Deleted keys
 * are among them: callers read each entry anyway.
 */
export async function bucketKeys(connection: NatsConnection, bucket: string, filter: string): Promise<string[]> {
  const manager = await connection.jetstreamManager();
  const prefix = `$KV.${bucket}.`;
  const info = await manager.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}${filter}` });
  return Object.keys(info.state.subjects ?? {})
    .map((subject) => subject.slice(prefix.length))
    .sort();
}

/** Reads a job message, refusing what is not one (a message someone else published on the subject). */
export function parseJob(message: JsMsg): TrialJob {
  let job: Partial<TrialJob>;
  try {
    job = JSON.parse(new TextDecoder().decode(message.data)) as Partial<TrialJob>;
  } catch {
    throw new ConfigError(`job ${message.seq} on ${message.subject} is not JSON`);
  }
  const stepOk = job.step === undefined || (typeof job.step.id === 'string' && typeof job.step.contentKey === 'string' && /^[0-9a-f]{16,64}$/.test(job.step.contentKey));
  if (job.format !== 'ct-trial-job/1' || typeof job.sweepId !== 'string' || typeof job.index !== 'number' || typeof job.name !== 'string' || typeof job.pipeline?.text !== 'string' || !Array.isArray(job.set) || typeof job.storeId !== 'string' || !stepOk) {
    throw new ConfigError(`job ${message.seq} on ${message.subject} is not a circuit-tuning trial (format ct-trial-job/1)`);
  }
  return job as TrialJob;
}
