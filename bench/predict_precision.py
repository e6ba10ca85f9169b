"""Does mixed-precision prediction change the score? For trained runs (run folders holding bundle/, whose config names
their competition-layout data with test_solution.csv), predicts the test set with `predict_parquets` in float32 and
with its default (bf16 on a GPU or a CPU that computes it natively), and scores both (`score_submission`).
Prints a table and writes bench/results/predict_precision.json.
Usage: python bench/predict_precision.py RUN [RUN ...]   (e.g. runs of bench/plain_loop.py under <cache>/bench/runs)
"""
import argparse, json, os, platform, time
from pathlib import Path
import torch
from bengali_fa.labels import COMPONENTS
from bengali_fa.learner import native_bf16_cpu
from bengali_fa.predict import predict_parquets, make_submission, score_submission

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('runs', nargs='+')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'predict_precision.json')); a = ap.parse_args()
    rows = []
    for run in map(Path, a.runs):
        data = Path(json.loads((run/'bundle'/'bundle.json').read_text())['extra']['config']['data.path'])
        preds, r = {}, dict(run=str(run), data=str(data))
        for name, mp in (('float32', False), ('default', None)):
            t = time.perf_counter(); preds[name] = predict_parquets(run, data, device='cpu', progress=False, mixed_precision=mp)
            s = score_submission(make_submission(preds[name], data/'test.csv', None), data/'test_solution.csv')
            r[name] = dict(score=s['score'], seen=s['seen']['score'], unseen=s['unseen']['score'], seconds=time.perf_counter() - t)
        r['labels_equal'] = float((preds['float32'][list(COMPONENTS)].to_numpy() == preds['default'][list(COMPONENTS)].to_numpy()).all(1).mean())
        r['n_images'] = len(preds['float32'])
        rows.append(r)
    print(f"default precision here: {'bf16' if native_bf16_cpu() else 'float32'}\n")
    print('| run | float32 score (seen/unseen) | default score (seen/unseen) | images with equal labels |\n|---|---|---|---|')
    for r in rows:
        f, d = r['float32'], r['default']
        print(f"| {Path(r['run']).name} | {f['score']:.4f} ({f['seen']:.4f}/{f['unseen']:.4f}) | {d['score']:.4f} ({d['seen']:.4f}/{d['unseen']:.4f}) | {r['labels_equal']:.4f} of {r['n_images']:,} |")
    out = Path(a.out); out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(dict(rows=rows, native_bf16_cpu=native_bf16_cpu(), cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                                   machine=platform.platform(), date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())), indent=1))
