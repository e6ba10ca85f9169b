"""Check the docs build as far as this machine can: everything `nbdev-docs` does before it calls Quarto.

Quarto cannot be installed here, so the GitHub workflow (.github/workflows/deploy.yaml) renders the site; this script
catches what would break it first. It checks that `nbs/nbdev.yml` is what nbdev generates from pyproject.toml, that
`nbs/sidebar.yml` lists every notebook exactly once, and runs nbdev's notebook processing (what `nbdev-docs` does to
each notebook before Quarto: the show_doc cells, the exported cells and the cells with imports are executed,
directives applied) on every notebook into a temporary folder, collecting every error instead of stopping at the
first. A processed page must begin with its title. Exits 1 on any problem. `nbs/98_docs.ipynb` runs it in `nbdev-test`.

Usage: python tools/check_docs.py [--nbs FOLDER] [notebook globs...]
  --nbs FOLDER: process the notebooks of FOLDER (default: the project's nbs/); the config checks are the project's
"""
import argparse, sys, tempfile, traceback
from pathlib import Path
import yaml
from fastcore.nbio import read_nb
from nbdev.config import get_config
from nbdev.processors import FilterDefaults
from nbdev.quarto import _nbdev_yml
import nbdev.serve_drv

def sidebar_notebooks(contents) -> list:
    out = []
    for c in contents:
        if isinstance(c, dict): out += sidebar_notebooks(c.get('contents', []))
        else: out.append(c)
    return out

def config_problems(cfg) -> list:
    "What is wrong with the docs configuration in the project's nbs/: nbdev.yml and the sidebar"
    nbs, errors = cfg.nbs_path, []
    want = _nbdev_yml.format(**{k: cfg[k] for k in ['title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl']},
                             doc_path=cfg.doc_path.name)
    if (nbs/'nbdev.yml').read_text() != want: errors.append(f"{nbs/'nbdev.yml'}: not what pyproject.toml gives (run nbdev's refresh_quarto_yml)")
    listed = sidebar_notebooks(yaml.safe_load((nbs/'sidebar.yml').read_text())['website']['sidebar']['contents'])
    have = sorted(p.name for p in nbs.glob('*.ipynb'))
    if sorted(listed) != have:
        errors.append(f"{nbs/'sidebar.yml'}: lists {sorted(set(listed) - set(have)) or 'no'} missing notebooks, "
                      f"leaves out {sorted(set(have) - set(listed)) or 'none'}, repeats {sorted({n for n in listed if listed.count(n) > 1}) or 'none'}")
    return errors

def proc_nb(nb, dest) -> Path:
    "Process notebook `nb` as `nbdev-docs` does before Quarto (as nbdev's `proc_nbs` does, without its cache) into folder `dest`"
    out = Path(dest)/Path(nb).name
    nbdev.serve_drv.main((Path(nb), out, FilterDefaults))
    return out

def nb_title(nb) -> str:
    "The title of a notebook: its first markdown cell's `# Title` line"
    cell = next((c for c in read_nb(nb).cells if c.cell_type == 'markdown'), None)
    line = cell.source.strip().splitlines()[0] if cell and cell.source.strip() else ''
    return line[2:].strip() if line.startswith('# ') else ''

def notebook_problems(nbs, dest, log=print) -> list:
    "Process every notebook `nbs` into `dest`; the errors, each naming its notebook"
    errors = []
    for nb in nbs:
        try:
            out = proc_nb(nb, dest)
            first = read_nb(out).cells[0]
            want = nb_title(nb)
            if not want: raise ValueError("no title: the first markdown cell must start with '# Title'")
            if first.cell_type != 'raw' or yaml.safe_load(first.source.strip().strip('-')).get('title') != want:
                raise ValueError(f"the processed page does not begin with its title {want!r}: {first.source[:200]!r}")
        except Exception as e:
            errors.append(f"{nb}: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}\n"
                          f"{''.join(traceback.format_exception_only(e)).strip()[-1500:]}")
            log(f"FAIL {nb.name}")
        else: log(f"ok   {nb.name}")
    return errors

def main(argv=None):
    p = argparse.ArgumentParser(description='nbdev-docs up to Quarto: the docs configuration and every notebook processed')
    p.add_argument('--nbs', help="the folder of the notebooks to process (default: the project's nbs/)")
    p.add_argument('globs', nargs='*', help='notebook names or globs (default: *.ipynb)')
    a = p.parse_args(argv)
    cfg = get_config()
    src = Path(a.nbs) if a.nbs else cfg.nbs_path
    nbs = sorted({q for g in (a.globs or ['*.ipynb']) for q in src.glob(g) if not q.name.startswith('_')})
    if not nbs: print(f"docs check: no notebook in {src} matches {a.globs or ['*.ipynb']}", file=sys.stderr); sys.exit(1)
    with tempfile.TemporaryDirectory(prefix='bengali_fa_docs_') as d:
        errors = config_problems(cfg) + notebook_problems(nbs, Path(d), log=lambda s: print(s, flush=True))
    if errors: print('\n\n'.join(['docs check failed:', *errors]), file=sys.stderr); sys.exit(1)
    print(f'docs check passed: {len(nbs)} notebooks')

if __name__ == '__main__': main()
