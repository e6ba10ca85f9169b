"""How many test-time views on held-out designs? (issue 29: the prediction rule of the default run)

For each library run of a `bench/styles.py` result file, predicts its held-out designs' test images with the first
n views of `bengali_fa.predict.TTA_VIEWS` (the original, a 1.08 zoom, then four 4% shifts, 0.93 and 1.15 zooms) for
each n of `--views`, and scores them per held-out design: score, root / vowel / consonant recall, seen and unseen
graphemes, unseen / seen, and the prediction time per image (the machine's load is recorded: it moves the times).
Prints the table (mean over runs per held-out design, then over designs) and writes bench/results/tta_<name>.json.

Usage: python bench/tta.py bench/results/styles_default_rerun.json [--views 1 2 4 6 8] [--name default]
"""
import argparse, json, time
from pathlib import Path
from plain_loop import COMPS, machine
from styles import design_scores, design_table, result_runs

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('result', help='a bench/styles.py result file')
    ap.add_argument('--views', type=int, nargs='+', default=[1, 2, 4, 6, 8])
    ap.add_argument('--name', default='', help='result name (default: the styles file name without styles_)')
    a = ap.parse_args()
    from bengali_fa.predict import predict_parquets
    rows = []
    for grp, seed, run, test, lab, meta, designs in result_runs(a.result):
        group = [g.strip() for g in grp.split(',')]
        files = sorted(test.glob('test_image_data_*.parquet'))
        for n in a.views:
            t = time.perf_counter()
            df = predict_parquets(run, files, progress=False, device='cpu', tta=n)
            ms = (time.perf_counter() - t) / len(df) * 1000
            y, p, m = lab.loc[df.image_id].to_numpy(), df[list(COMPS)].to_numpy(), meta.loc[df.image_id]
            design, seen = m.font.map(designs).to_numpy(), m.seen.to_numpy().astype(bool)
            for g in group:
                k = design == g
                rows.append(dict(views=n, design=g, group=grp, seed=seed, run=run, ms_per_image=round(ms, 2),
                                 **{c: round(v, 4) for c, v in design_scores(y[k], p[k], design[k], seen[k]).items()}))
                print(rows[-1], flush=True)
    table = design_table(rows, 'views', {'ms_per_image': ('ms / image', '.1f')})
    print('\n'.join(table))
    name = a.name or Path(a.result).stem.removeprefix('styles_')
    out = Path(__file__).parent/'results'/f'tta_{name}.json'
    out.write_text(json.dumps(dict(source=str(a.result), table=table, runs=rows, machine=machine()), indent=1, ensure_ascii=False) + '\n')

if __name__ == '__main__': main()
