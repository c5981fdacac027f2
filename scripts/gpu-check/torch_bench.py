"""Issue 18's device check, the PyTorch side: the measurements of
packages/pipeline/bench/gpu-check.bench.ts on the same shapes, with the GPT-2-shaped model of
packages/model/bench/torch_gpt2.py (random weights, no downloads), on cuda when there is one:

  train          forward, backward and one Adam step over every parameter, batch x seq tokens
  eap            one EAP pass on `prompts` prompts of `promptTokens` tokens: corrupted forward
                 (writer outputs), clean forward with reader probes and writer outputs, backward
                 into the probes, and the contraction (clean - corrupted) . grad over every edge of
                 the graph (32,491 on GPT-2 small)
  circuitStep    an EAP pass, the top-N edges, their nodes' parameter slices as gradient masks
                 (a head's W_Q/W_K/W_V columns and b_Q/b_K/b_V as a reader, its W_O rows and b_O as
                 a writer; an MLP's W_in/b_in as a reader, W_out/b_out as a writer; the embeddings
                 as the input), and one masked training step

The metric is the mean next-token loss rather than discovery's logit difference: the same passes,
a metric of negligible cost. Prints the table on stderr and writes JSON with --out.

  python3 torch_bench.py [--shape gpt2-small|tiny] [--device auto|cuda|cpu] [--warmup 1] [--repeats 3] [--out FILE.json]
"""
import argparse
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# torch_gpt2.py sits next to this file in the bundle (scripts/gpu-check/pack.sh); in the repository
# it is packages/model/bench/torch_gpt2.py.
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'packages', 'model', 'bench'))
from torch_gpt2 import Gpt2  # noqa: E402

# The shapes of gpu-check.bench.ts (SHAPES there).
SHAPES = {
    'gpt2-small': {'layers': 12, 'heads': 12, 'd': 768, 'vocab': 50257, 'batch': 16, 'seq': 64, 'prompts': 32, 'promptTokens': 32, 'topN': 1000},
    'tiny': {'layers': 2, 'heads': 4, 'd': 128, 'vocab': 2000, 'batch': 4, 'seq': 32, 'prompts': 8, 'promptTokens': 16, 'topN': 40},
}


def say(line):
    sys.stderr.write(line + '\n')
    sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shape', default='gpt2-small', choices=sorted(SHAPES))
    ap.add_argument('--device', default='auto', choices=['auto', 'cuda', 'cpu'])
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=0, help='CPU threads (0: torch default)')
    ap.add_argument('--out')
    args = ap.parse_args()
    import torch

    s = SHAPES[args.shape]
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if args.device == 'auto' else args.device
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    L, H, D, V = s['layers'], s['heads'], s['d'], s['vocab']
    model = Gpt2(L, H, D, V, 1024, device)
    name = torch.cuda.get_device_name(0) if device == 'cuda' else f'cpu, {torch.get_num_threads()} threads'
    say(f'PyTorch {torch.__version__} on {device} ({name})')

    def sync():
        if device == 'cuda':
            torch.cuda.synchronize()

    def timed(step, label):
        times = []
        for i in range(args.warmup + args.repeats):
            sync()
            t0 = time.perf_counter()
            step()
            sync()
            ms = (time.perf_counter() - t0) * 1000
            if i >= args.warmup:
                times.append(ms)
            say(f'  {label} {"warm-up" if i < args.warmup else "step"} {i + 1 if i < args.warmup else i - args.warmup + 1}: {ms:.0f} ms')
        return times, sorted(times)[len(times) // 2]

    g = torch.Generator().manual_seed(2)
    B, T = s['batch'], s['seq']
    batch = torch.randint(0, V, (B, T + 1), generator=g)
    ids, targets = batch[:, :-1].to(device), batch[:, 1:].reshape(-1).to(device)
    P, PT = s['prompts'], s['promptTokens']
    clean = torch.randint(0, V, (P, PT), generator=g)
    corrupt = clean.clone()
    for row in range(P):  # three tokens corrupted per prompt, as the TypeScript side
        corrupt[row, torch.randint(0, PT, (3,), generator=g)] = torch.randint(0, V, (3,), generator=g)
    clean, corrupt = clean.to(device), corrupt.to(device)
    prompt_targets = torch.randint(0, V, (P * PT,), generator=g).to(device)

    # The graph: writers (input; per layer H heads, then the MLP) and readers (per layer 3H
    # attention inputs, then the MLP; the logits), with an edge from every earlier writer.
    W, R = 1 + L * (H + 1), L * (3 * H + 1) + 1
    layer_of_writer = [-1] + [l for l in range(L) for _ in range(H + 1)]
    valid = torch.zeros(W, R, dtype=torch.bool)
    for r in range(R):
        l, i = divmod(r, 3 * H + 1)
        for w in range(W):
            lw = layer_of_writer[w]
            is_head = w > 0 and (w - 1) % (H + 1) < H
            if l == L:  # logits
                valid[w, r] = True
            elif i < 3 * H:  # attention reader of layer l
                valid[w, r] = lw < l
            else:  # MLP reader of layer l: also its own layer's heads
                valid[w, r] = lw < l or (lw == l and is_head)
    valid = valid.to(device)
    edges = int(valid.sum())

    def eap_scores():
        N = P * PT
        with torch.no_grad():
            corrupted = []
            model.forward_loss(corrupt, prompt_targets, P, PT, writers=corrupted)
            corrupted = torch.stack(corrupted).reshape(W, -1)
        probes = {'attention': [torch.zeros(3 * H, N, D, device=device, requires_grad=True) for _ in range(L)],
                  'mlp': [torch.zeros(N, D, device=device, requires_grad=True) for _ in range(L)],
                  'logits': torch.zeros(N, D, device=device, requires_grad=True)}
        writers = []
        loss = model.forward_loss(clean, prompt_targets, P, PT, probes=probes, writers=writers)
        grads = torch.autograd.grad(loss, [p for l in range(L) for p in (probes['attention'][l], probes['mlp'][l])] + [probes['logits']])
        reader_grads = torch.cat([g.reshape(-1, N * D) for g in grads])  # [R, N*D] in reader order
        diff = corrupted - torch.stack(writers).detach().reshape(W, -1)
        scores = (diff @ reader_grads.t()) / P  # [W, R]
        return torch.where(valid, scores, torch.zeros_like(scores))

    adam = torch.optim.Adam(model.params, lr=1e-4)

    def train_step(masks=None):
        loss = model.forward_loss(ids, targets, B, T)
        loss.backward()
        if masks is not None:
            for t, m in zip(model.params, masks):
                t.grad.mul_(m)
        adam.step()
        for t in model.params:
            t.grad = None
        return loss

    def masks_of(scores):
        """Gradient masks of the top-N edges' nodes (gradient-mask mode)."""
        flat = torch.where(valid, scores.abs(), torch.full_like(scores, -1.0)).reshape(-1)
        top = torch.topk(flat, min(s['topN'], edges)).indices.cpu()
        writers = set((top // R).tolist())
        readers = set((top % R).tolist())
        masks = [torch.zeros_like(t) for t in model.params]
        index = {id(t): i for i, t in enumerate(model.params)}
        dh = D // H

        def mark(t, cols=None, rows=None):
            m = masks[index[id(t)]]
            if cols is not None:
                m[..., cols] = 1
            elif rows is not None:
                m[rows] = 1
            else:
                m.fill_(1)
        if 0 in writers:
            mark(model.p['W_E'])
            mark(model.p['W_pos'])
        for w in writers - {0}:
            l, i = divmod(w - 1, H + 1)
            b = model.blocks[l]
            if i < H:
                mark(b['W_O'], rows=slice(i * dh, (i + 1) * dh))
                mark(b['b_O'])
            else:
                mark(b['W_out'])
                mark(b['b_out'])
        for r in readers:
            l, i = divmod(r, 3 * H + 1)
            if l == L:
                continue  # the logits own no parameters
            b = model.blocks[l]
            if i < 3 * H:
                letter, head = divmod(i, H)
                cols = slice(head * dh, (head + 1) * dh)
                mark(b['W_' + 'QKV'[letter]], cols=cols)
                mark(b['b_' + 'QKV'[letter]], cols=cols)
            else:
                mark(b['W_in'])
                mark(b['b_in'])
        return masks

    results = {'backend': 'torch', 'device': name, 'torch': torch.__version__, 'shapeName': args.shape, 'shape': s,
               'host': socket.gethostname(), 'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
               'warmup': args.warmup, 'repeats': args.repeats, 'errors': []}

    def measure(key, run):
        try:
            run()
        except Exception as e:  # report and go on with the next measurement
            say(f'{key} failed: {e}')
            results['errors'].append({'what': key, 'message': str(e).split('\n')[0]})

    def train():
        times, med = timed(train_step, 'train')
        results['train'] = {'tokensPerS': B * T * 1000 / med, 'medianMs': med, 'stepMs': times}

    def eap():
        times, med = timed(lambda: eap_scores().cpu(), 'EAP')
        results['eap'] = {'tokensPerS': P * PT * 1000 / med, 'seconds': med / 1000, 'edges': edges}

    def circuit():
        discovery = []

        def step():
            t0 = time.perf_counter()
            masks = masks_of(eap_scores())
            sync()
            discovery.append((time.perf_counter() - t0) * 1000)
            train_step(masks)
        times, med = timed(step, 'circuit-tuning')
        trainable = sum(int(m.sum()) for m in masks_of(eap_scores()))
        results['circuitStep'] = {'tokensPerS': B * T * 1000 / med, 'medianMs': med, 'stepMs': times,
                                  'discoveryMs': sorted(discovery[args.warmup:])[len(times) // 2],
                                  'trainable': trainable, 'parameters': sum(t.numel() for t in model.params)}

    for key, run in (('train', train), ('eap', eap), ('circuitStep', circuit)):
        measure(key, run)
    for key, label in (('train', 'train step (fwd+bwd+Adam)'), ('eap', 'EAP pass'), ('circuitStep', 'circuit-tuning step')):
        r = results.get(key)
        say(f'| {label} | {r["tokensPerS"]:.1f} tokens/s | {r["medianMs"] if "medianMs" in r else r["seconds"] * 1000:.0f} ms |' if r else f'| {label} | — |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)
            f.write('\n')
    sys.exit(1 if results['errors'] else 0)


if __name__ == '__main__':
    main()
