"""Golden data for test_engine: the fixture checkpoints (made by the original
PyTorch code) written as mxb weights files, plus malformed variants of them.
The conversion here is deliberately independent of tools/convert_checkpoint.py."""
import math, os, shutil, sys
import h5py, torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
fx = os.environ["MXB_FIXTURES"]


def convert(pth, dst, heads):
    sd = torch.load(pth, map_location="cpu")["model"]
    vim = any(k.endswith("A_b_log") for k in sd)
    with h5py.File(dst, "w") as f:
        for k, v in sd.items():
            f[k] = v.float().numpy()
        a = f.attrs
        E = sd["cls_token"].shape[-1]
        P = sd["patch_embed.proj.weight"].shape[-1]
        L = sd["pos_embed"].shape[1]
        a["mxb_weights_version"] = 1
        a["arch"] = "vim" if vim else "vit"
        a["img_size"] = math.isqrt(L - 1) * P
        a["patch_size"], a["in_chans"] = P, 3
        a["num_classes"], a["embed_dim"] = sd["head.weight"].shape[0], E
        pre = "layers." if vim else "blocks."
        a["depth"] = len({k.split(".")[1] for k in sd if k.startswith(pre)})
        if vim:
            a["norm_eps"] = 1e-5
            a["d_inner"], a["d_state"] = sd["layers.0.mixer.A_log"].shape
            a["dt_rank"] = sd["layers.0.mixer.dt_proj.weight"].shape[1]
            a["d_conv"] = sd["layers.0.mixer.conv1d.weight"].shape[2]
            a["divide_out"] = 1
        else:
            a["norm_eps"], a["final_norm_eps"] = 1e-6, 1e-5
            a["num_heads"], a["qkv_bias"] = heads, 1
            a["mlp_hidden"] = sd["blocks.0.mlp.fc1.weight"].shape[0]
        # the official models' evaluation transform (engine/WEIGHTS.md), as DeiT writes it
        S = int(a["img_size"])
        a["eval_resize"], a["eval_square"], a["eval_crop"] = int(S * 256 / 224), 0, S
        a["eval_interpolation"] = "bicubic"
        a["eval_mean"], a["eval_std"] = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


convert(os.path.join(fx, "vim_d64.pth"), os.path.join(out, "vim_d64.h5"), 0)
convert(os.path.join(fx, "deit_d64.pth"), os.path.join(out, "deit_d64.h5"), 2)

# malformed weights files, each with one defect
src = os.path.join(out, "deit_d64.h5")
def variant(name, edit):
    dst = os.path.join(out, name)
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        edit(f)

variant("bad_missing.h5", lambda f: f.__delitem__("blocks.2.mlp.fc1.bias"))
variant("bad_unexpected.h5", lambda f: f.create_dataset("head_dist.weight", data=[1.0]))
def wrong_shape(f):
    del f["blocks.1.attn.proj.weight"]
    f["blocks.1.attn.proj.weight"] = torch.zeros(64, 63).numpy()
variant("bad_shape.h5", wrong_shape)
def wrong_dtype(f):
    del f["norm.bias"]
    f["norm.bias"] = torch.zeros(64, dtype=torch.int32).numpy()
variant("bad_dtype.h5", wrong_dtype)
variant("bad_noattr.h5", lambda f: f.attrs.__delitem__("num_heads"))
variant("bad_arch.h5", lambda f: f.attrs.__setitem__("arch", "resnet"))
def nan(f):
    f["head.bias"][3] = float("nan")
variant("bad_nan.h5", nan)
data = open(src, "rb").read()
open(os.path.join(out, "bad_truncated.h5"), "wb").write(data[: len(data) // 2])
open(os.path.join(out, "bad_text.h5"), "w").write("not an hdf5 file\n")
print("wrote", out)
