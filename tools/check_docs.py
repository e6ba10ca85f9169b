"""Check the docs build as far as this machine can: everything `nbdev-docs` does before it calls Quarto.

Quarto cannot be installed here, so the GitHub workflow (.github/workflows/deploy.yaml) renders the site; this script
catches what would break it first. It checks that `nbs/nbdev.yml` is what nbdev generates from pyproject.toml, that
`nbs/sidebar.yml` lists every notebook exactly once, and runs nbdev's notebook processing (the show_doc cells, the
exported cells and the cells with imports are executed, directives applied) on every notebook into `_proc/`,
collecting every error instead of stopping at the first. Exits 1 on any problem. Used by .ci/run.

Usage: python tools/check_docs.py [notebook globs...]
"""
import sys, tempfile, traceback
from pathlib import Path
import yaml
from nbdev.config import get_config
from nbdev.quarto import _nbdev_yml
from nbdev.serve import proc_nbs

def sidebar_notebooks(contents) -> list:
    out = []
    for c in contents:
        if isinstance(c, dict): out += sidebar_notebooks(c.get('contents', []))
        else: out.append(c)
    return out

def main(globs):
    cfg = get_config(); nbs = cfg.nbs_path; errors = []
    want = _nbdev_yml.format(**{k: cfg[k] for k in ['title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl']},
                             doc_path=cfg.doc_path.name)
    if (nbs/'nbdev.yml').read_text() != want: errors.append(f"{nbs/'nbdev.yml'}: not what pyproject.toml gives (run nbdev's refresh_quarto_yml)")
    listed = sidebar_notebooks(yaml.safe_load((nbs/'sidebar.yml').read_text())['website']['sidebar']['contents'])
    have = sorted(p.name for p in nbs.glob('*.ipynb'))
    if sorted(listed) != have:
        errors.append(f"{nbs/'sidebar.yml'}: lists {sorted(set(listed) - set(have)) or 'no'} missing notebooks, "
                      f"leaves out {sorted(set(have) - set(listed)) or 'none'}, repeats {sorted({n for n in listed if listed.count(n) > 1}) or 'none'}")
    for nb in sorted(p for g in (globs or ['*.ipynb']) for p in nbs.glob(g)):
        try: proc_nbs(str(nbs), n_workers=0, file_glob=nb.name)
        except Exception as e:
            errors.append(f"{nb}: {str(e).strip().splitlines()[0]}\n{''.join(traceback.format_exception_only(e)).strip()[-1500:]}")
            print(f"FAIL {nb.name}", flush=True)
        else: print(f"ok   {nb.name}", flush=True)
    if errors: print('\n\n'.join(['docs check failed:', *errors]), file=sys.stderr); sys.exit(1)
    print('docs check passed')

if __name__ == '__main__': main(sys.argv[1:])
