"""Keep the committed outputs of notebooks small: `python tools/shrink_outputs.py nbs/*.ipynb`.

Run after `nbdev-test --save` (which writes the outputs of a successful run back into the notebooks), then `nbdev-clean`.
- PNG outputs are downscaled to at most `--max-width` pixels wide and stored with a 16-colour palette (32 colours by
  octree for plots in colour, whose lines median cut would merge): the pictures of noisy synthetic images take 15-30 KB
  instead of 150-250 KB, and plots a few KB.
- Outputs of `#| hide` cells (tests) and stderr streams (warnings, which name this machine's font files) are dropped:
  the docs never show them, and they would only add noise to every diff.
- Text streams with carriage returns (a terminal's progress bars: each training run writes 100-300 KB of them) keep
  what a terminal would show at the end: the epoch table and the final line of each run.
"""
import argparse, base64, io, json, re
import numpy as np
from pathlib import Path
from PIL import Image

def shrink_png(b64:str, max_width:int=600, colors:int=16) -> str:
    "A base64 PNG, downscaled to `max_width` and quantized to `colors` (twice as many for a plot in colour); the original when that is not smaller"
    im = Image.open(io.BytesIO(base64.b64decode(b64))).convert('RGB')
    if im.width > max_width: im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
    a = np.asarray(im).astype(np.int16)
    if ((a.max(2) - a.min(2)) > 48).mean() > 1e-3:  # colour: median cut gives the white and grey pixels every colour and merges
        q = im.quantize(2 * colors, method=Image.Quantize.FASTOCTREE)  # the lines' few (C0 and C2 both came out green); octree keeps them
    else: q = im.quantize(colors, method=Image.Quantize.MEDIANCUT)  # grey pictures: median cut spends the palette on the greys
    out = io.BytesIO(); q.save(out, 'PNG', optimize=True)
    new = base64.b64encode(out.getvalue()).decode()
    return new if len(new) < len(b64) else b64

def terminal_text(text:str) -> str:
    "What a terminal shows after printing `text`: each carriage return moves back to the line's start, later characters overwrite"
    out = []
    for line in text.split('\n'):
        buf = []
        for seg in line.split('\r'):
            buf[:len(seg)] = seg  # overwrite from the line's start, keeping what was longer
        out.append(''.join(buf).rstrip())
    return '\n'.join(out)

def _hidden(src:str) -> bool: return re.search(r'^#\|\s*hide\s*$', src, re.M) is not None

def shrink_nb(path, max_width:int=600) -> tuple:
    "Shrink the outputs of the notebook at `path` in place; (bytes before, bytes after)"
    path = Path(path); text = path.read_text(); nb = json.loads(text)
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        if _hidden(''.join(c['source'])): c['outputs'] = []; continue
        outs = []
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream' and o.get('name') == 'stderr': continue
            if o.get('output_type') == 'stream':
                t = ''.join(o['text']) if isinstance(o['text'], list) else o['text']
                if '\r' in t: o['text'] = terminal_text(t)
            d = o.get('data', {})
            if 'image/png' in d:
                png = d['image/png']; png = ''.join(png) if isinstance(png, list) else png
                d['image/png'] = shrink_png(png.replace('\n', ''), max_width)
            outs.append(o)
        c['outputs'] = outs
    new = json.dumps(nb, indent=1, ensure_ascii=False) + '\n'
    path.write_text(new)
    return len(text.encode()), len(new.encode())

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='+'); ap.add_argument('--max-width', type=int, default=600)
    a = ap.parse_args()
    for p in a.notebooks:
        before, after = shrink_nb(p, a.max_width)
        print(f'{p}: {before / 1024:.0f} KB -> {after / 1024:.0f} KB')
