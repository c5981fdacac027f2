/**
 * The queue executor's flags, read the same way by `ct sweep` and `ct run` (--queue, --store,
 * --timeout, --ack-wait, --max-deliver; the address and credentials also from CT_QUEUE_URL and
 * friends, the store from CT_STORE), and refused by name when the executor is local.
 */
import { ConfigError } from '@circuit-tuning/contracts';
import { DEFAULT_QUEUE_SETTINGS, type QueueExecutorOptions, queueUrl } from '@circuit-tuning/pipeline';
import { positiveInt, userPath } from './cli-support';

export const QUEUE_FLAGS = ['queue', 'store', 'timeout', 'ack-wait', 'max-deliver'] as const;

/** Refuses the queue's flags without --executor queue. */
export function refuseQueueFlags(values: Record<string, unknown>): void {
  for (const flag of QUEUE_FLAGS) {
    if (values[flag] !== undefined) throw new ConfigError(`--${flag} is for --executor queue`, { hint: 'add --executor queue, or drop it' });
  }
}

/** The queue executor's options from the command line (what is not a flag: the caller's). */
export function queueFlags(values: Record<string, unknown>): Pick<QueueExecutorOptions, 'queueUrl' | 'store' | 'settings' | 'timeoutMs'> {
  const store = (values.store as string | undefined) ?? process.env.CT_STORE;
  return {
    queueUrl: queueUrl(values.queue as string | undefined),
    ...(store === undefined || store === '' ? {} : { store: store === 'nats' ? store : userPath(store) }),
    settings: {
      ackWaitMs: (positiveInt(values['ack-wait'], '--ack-wait') ?? DEFAULT_QUEUE_SETTINGS.ackWaitMs / 1000) * 1000,
      maxDeliver: positiveInt(values['max-deliver'], '--max-deliver') ?? DEFAULT_QUEUE_SETTINGS.maxDeliver,
    },
    timeoutMs: (positiveInt(values.timeout, '--timeout') ?? 86_400) * 1000,
  };
}
