"""The PyTorch side of the throughput bench: the same GPT-2-shaped model as the TypeScript
transformer (packages/model/src/transformer): separate W_Q/W_K/W_V, tied embeddings, gelu_new,
LayerNorm eps 1e-5, learned positions (1024), random weights, the same token stream and loss
(mean next-token cross-entropy), and the same passes:

  forward          loss under no_grad
  fwd+bwd          loss.backward() into every parameter
  eap              autograd.grad(loss, reader probes)
  fwd+bwd+probes   autograd.grad(loss, parameters + reader probes), one backward pass
  train            loss.backward() and one Adam step (lr 1e-4) over every parameter

Reader probes follow the TypeScript layout (node-tensors.ts): per layer [3*heads, tokens, d] added to
the attention input of every (q|k|v, head) reader, which then has its own LayerNorm and per-head
projection; [tokens, d] at each MLP input and at the final residual.

Usage (run by throughput.bench.ts):
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 torch_gpt2.py '{"threads":2,"layers":12,"heads":12,"d":768,
      "vocab":50257,"steps":3,"warmup":1,"runs":[{"mode":"fwd+bwd","batch":8,"seq":64}]}'
Prints one JSON object per line after the prefix '@ct-bench ' (the bench's protocol).
"""
import json
import math
import os
import re
import sys
import time

PREFIX = '@ct-bench '


def emit(obj):
    sys.stdout.write(PREFIX + json.dumps(obj) + '\n')
    sys.stdout.flush()


def reset_peak_rss():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass


def peak_rss_mb():
    try:
        with open('/proc/self/status') as f:
            m = re.search(r'VmHWM:\s+(\d+) kB', f.read())
            if m:
                return int(m.group(1)) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def token_stream(batch, seq, vocab, seed=1):
    """Same LCG as bench/loss.ts: seq + 1 tokens per row; inputs and next-token targets."""
    state = (seed * 2654435761) & 0xFFFFFFFF
    ids = []
    for _ in range(batch * (seq + 1)):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        ids.append(state % vocab)
    rows = [ids[b * (seq + 1):(b + 1) * (seq + 1)] for b in range(batch)]
    return [r[:-1] for r in rows], [r[1:] for r in rows]


class Gpt2:
    """The GPT-2-shaped model with random weights on `device` (cpu or cuda), and its loss.

    Also imported by scripts/gpu-check/torch_bench.py (issue 18's device check)."""

    def __init__(self, L, H, D, V, P, device='cpu'):
        import torch
        self.L, self.H, self.D, self.V, self.dh, self.device = L, H, D, V, D // H, device

        def normal(*shape, std=0.02):
            return (torch.randn(*shape, device=device) * std).requires_grad_()

        def const(value, *shape):
            return torch.full(shape, float(value), device=device).requires_grad_()

        resid_std = 0.02 / math.sqrt(2 * L)
        p = {'W_E': normal(V, D), 'W_pos': normal(P, D, std=0.01)}
        blocks = []
        for _ in range(L):
            blocks.append({
                'ln1_w': const(1, D), 'ln1_b': const(0, D),
                'W_Q': normal(D, D), 'W_K': normal(D, D), 'W_V': normal(D, D),
                'b_Q': const(0, D), 'b_K': const(0, D), 'b_V': const(0, D),
                'W_O': normal(D, D, std=resid_std), 'b_O': const(0, D),
                'ln2_w': const(1, D), 'ln2_b': const(0, D),
                'W_in': normal(D, 4 * D), 'b_in': const(0, 4 * D),
                'W_out': normal(4 * D, D, std=resid_std), 'b_out': const(0, D),
            })
        p['lnf_w'], p['lnf_b'] = const(1, D), const(0, D)
        self.p, self.blocks = p, blocks
        self.params = [p['W_E'], p['W_pos']] + [t for b in blocks for t in b.values()] + [p['lnf_w'], p['lnf_b']]

    def forward_loss(self, ids, targets, B, T, probes=None, writers=None):
        """Mean next-token cross-entropy. `probes`: reader probes (the module docstring's layout).
        `writers`: a list that receives every writer node's output, [N, D] each, in the graph's
        writer order (input; per layer its heads, then its MLP), for EAP's contraction."""
        import torch
        import torch.nn.functional as F
        p, blocks, H, D, dh = self.p, self.blocks, self.H, self.D, self.dh
        N = B * T
        x = (p['W_E'][ids] + p['W_pos'][:T]).reshape(N, D)
        if writers is not None:
            writers.append(x)
        mask = torch.triu(torch.full((T, T), -1e9, device=self.device), diagonal=1)
        for l, b in enumerate(blocks):
            if probes is None:
                h = F.layer_norm(x, (D,), b['ln1_w'], b['ln1_b'], 1e-5)
                q = (h @ b['W_Q'] + b['b_Q']).reshape(B, T, H, dh).transpose(1, 2)
                k = (h @ b['W_K'] + b['b_K']).reshape(B, T, H, dh).transpose(1, 2)
                v = (h @ b['W_V'] + b['b_V']).reshape(B, T, H, dh).transpose(1, 2)
            else:
                # One input per (letter, head) reader: [3H, N, D], each normalised and projected
                # by that head's weights only (as forward.ts does with probes).
                h = F.layer_norm(x.unsqueeze(0) + probes['attention'][l], (D,), b['ln1_w'], b['ln1_b'], 1e-5)
                w = torch.cat([b[n].reshape(D, H, dh).permute(1, 0, 2) for n in ('W_Q', 'W_K', 'W_V')], 0)  # [3H, D, dh]
                bias = torch.cat([b[n].reshape(H, 1, dh) for n in ('b_Q', 'b_K', 'b_V')], 0)  # [3H, 1, dh]
                qkv = torch.bmm(h, w) + bias  # [3H, N, dh]
                q, k, v = [t.reshape(H, B, T, dh).transpose(0, 1) for t in qkv.split(H, 0)]  # [B, H, T, dh]
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + mask, dim=-1)
            z = (att @ v).transpose(1, 2).reshape(N, D)
            if writers is None:
                x = x + z @ b['W_O'] + b['b_O']
            else:
                # Each head's own output (its W_O rows): [H, N, D].
                heads = torch.bmm(z.reshape(N, H, dh).transpose(0, 1), b['W_O'].reshape(H, dh, D))
                writers.extend(heads.unbind(0))
                x = x + heads.sum(0) + b['b_O']
            mlp_in = x if probes is None else x + probes['mlp'][l]
            h2 = F.layer_norm(mlp_in, (D,), b['ln2_w'], b['ln2_b'], 1e-5)
            mlp_out = F.gelu(h2 @ b['W_in'] + b['b_in'], approximate='tanh') @ b['W_out'] + b['b_out']
            if writers is not None:
                writers.append(mlp_out)
            x = x + mlp_out
        final = x if probes is None else x + probes['logits']
        logits = F.layer_norm(final, (D,), p['lnf_w'], p['lnf_b'], 1e-5) @ p['W_E'].t()
        return F.cross_entropy(logits, targets)


def main():
    req = json.loads(sys.argv[1])
    import torch

    torch.set_num_threads(req['threads'])
    torch.manual_seed(1)
    L, H, D, V = req['layers'], req['heads'], req['d'], req['vocab']
    P = max(1024, max(r['seq'] for r in req['runs']))
    blas = 'unknown'
    m = re.search(r'BLAS_INFO=([^,\s]+)', torch.__config__.show())
    if m:
        blas = m.group(1)
    openblas = any('openblas' in line for line in open('/proc/self/maps')) if os.path.exists('/proc/self/maps') else False
    emit({'type': 'backend', 'name': 'torch', 'version': torch.__version__, 'threads': torch.get_num_threads(),
          'blas': blas, 'openblas_loaded': openblas})

    t0 = time.perf_counter()
    model = Gpt2(L, H, D, V, P)
    params = model.params
    forward_loss = model.forward_loss
    emit({'type': 'model', 'params': sum(t.numel() for t in params), 'buildS': time.perf_counter() - t0})

    adam = None
    for run in req['runs']:
        mode, B, T = run['mode'], run['batch'], run['seq']
        if mode == 'train' and adam is None:
            adam = torch.optim.Adam(params, lr=1e-4)
        inputs, targets = token_stream(B, T, V)
        ids = torch.tensor(inputs)
        tgt = torch.tensor(targets).reshape(-1)
        probes = None
        if mode in ('eap', 'fwd+bwd+probes'):
            N = B * T
            probes = {'attention': [torch.zeros(3 * H, N, D, requires_grad=True) for _ in range(L)],
                      'mlp': [torch.zeros(N, D, requires_grad=True) for _ in range(L)],
                      'logits': torch.zeros(N, D, requires_grad=True)}
            probe_list = probes['attention'] + probes['mlp'] + [probes['logits']]

        def step():
            if mode == 'forward':
                with torch.no_grad():
                    return float(forward_loss(ids, tgt, B, T))
            if mode in ('fwd+bwd', 'train'):
                loss = forward_loss(ids, tgt, B, T)
                loss.backward()
                if adam is not None and mode == 'train':
                    adam.step()
                for t in params:
                    t.grad = None
                return float(loss)
            loss = forward_loss(ids, tgt, B, T, probes)
            wrt = probe_list if mode == 'eap' else params + probe_list
            grads = torch.autograd.grad(loss, wrt)
            del grads
            return float(loss)

        try:
            reset_peak_rss()
            for _ in range(req['warmup']):
                step()
            times, loss = [], float('nan')
            # as the TypeScript worker: at least `steps`, up to 3 × steps until 10 s are timed
            while len(times) < 3 * req['steps'] and (len(times) < req['steps'] or sum(times) < 10000):
                t = time.perf_counter()
                loss = step()
                times.append((time.perf_counter() - t) * 1000)
            s = sorted(times)
            n = len(s)
            med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
            emit({'type': 'result', 'mode': mode, 'batch': B, 'seq': T, 'tokens': B * T, 'stepMs': times,
                  'medianMs': med, 'tokensPerS': B * T * 1000 / med, 'loss': loss, 'peakRssMb': peak_rss_mb()})
        except Exception as e:  # report and go on with the next run
            emit({'type': 'error', 'mode': mode, 'message': str(e).split('\n')[0]})
        probes = None


if __name__ == '__main__':
    main()
