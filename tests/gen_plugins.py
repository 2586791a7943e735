"""Golden maps for the gradcam plugin, computed with numpy from the original code's
intermediates in the fixtures (attention and its gradient; residuals and
Block.get_gradients), plus the fixture checkpoints as weights files."""
import os, runpy, sys
import h5py, numpy as np

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
sys.argv = [sys.argv[0], out]
runpy.run_path(os.path.join(here, "gen_engine.py"), run_name="__main__")
fx = os.environ["MXB_FIXTURES"]

with h5py.File(os.path.join(fx, "deit_d64.golden.h5")) as g:
    a = g["debug/block_03/attn"][:, 0, 1:]          # [H, 196] class token's row
    gr = g["debug/block_03/attn_grad"][:, 0, 1:]
    w = gr.mean(axis=1, keepdims=True)
    vit = np.clip((a * w).mean(0), 0, None)
with h5py.File(os.path.join(fx, "vim_d64.golden.h5")) as g:
    r = g["debug/layer_13/residual"][:]              # entering layer 13 = leaving 12
    gr = g["debug/layer_12/residual_grad"][:]
    s = (r.astype(np.float64) * gr).sum(1)
    vim = np.clip(np.delete(s, 98), 0, None)
with h5py.File(os.path.join(out, "gradcam.h5"), "w") as f:
    f["vit"] = vit.astype(np.float32)
    f["vim"] = vim.astype(np.float32)
open(os.path.join(out, "not_a_plugin.so"), "w").write("text, not ELF\n")
