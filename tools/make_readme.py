"""Write README.md from nbs/index.ipynb without Quarto (which `nbdev-readme` needs and cannot be installed offline).

Markdown cells are copied; the title cell's `> summary` line is kept; code cells become ```python blocks; outputs
and cells marked `#| hide` are left out. `python tools/make_readme.py --check` exits 1 when README.md is stale.
"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def render(nb_path=root/'nbs'/'index.ipynb') -> str:
    parts = ['<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->']
    for c in json.loads(Path(nb_path).read_text(encoding='utf-8'))['cells']:
        src = ''.join(c['source']).strip()
        if not src or src.startswith('#| hide'): continue
        if c['cell_type'] == 'markdown': parts.append(src)
        elif c['cell_type'] == 'code':
            src = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
            parts.append(f'```python\n{src}\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    text, readme = render(), root/'README.md'
    if '--check' in sys.argv:
        if readme.read_text(encoding='utf-8') != text: sys.exit('README.md is stale: run python tools/make_readme.py')
    else: readme.write_text(text, encoding='utf-8')
