/* Weights files (engine/weights.c), structure-aware: a tiny valid ViT or ViM weights
 * file (templates/weights_vit.h5, weights_vim.h5; the first input byte picks one) is
 * mutated key by key and attribute by attribute (fuzz_h5mut.h: missing, unexpected,
 * renamed, wrongly shaped or typed keys, declared-but-empty or huge tensors, NaN and
 * infinite values, missing or odd config attributes) and loaded with mxb_model_load,
 * the function behind every `mxb` command that takes --weights; its evaluation
 * transform is read with mxb_weights_transform. */
#include "engine/engine.h"
#include "fuzz_h5mut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fz_template *tpl[2];
    if (!tpl[0]) {
        tpl[0] = fz_template_load("weights_vit.h5");
        tpl[1] = fz_template_load("weights_vim.h5");
    }
    int which = size ? data[0] & 1 : 0;
    const char *path = fz_path("weights.h5");
    fz_h5_build(tpl[which], size ? data + 1 : data, size ? size - 1 : 0, path);
    mxb_model *m = NULL;
    char err[1024] = "";
    if (mxb_model_load(path, &m, err, sizeof err) == 0) {
        const mxb_config *c = mxb_model_config(m);
        if (c->img_size < 1 || c->embed_dim < 1 || c->depth < 1 || !mxb_model_param_count(m)) abort();
        /* every tensor was checked finite: a loaded model has no NaN to spread */
        for (int i = 0; i < mxb_model_num_params(m); i++) {
            int nd;
            int64_t shape[4];
            float *w;
            mxb_model_param_name(m, i, &nd, shape, &w);
            size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
            for (size_t k = 0; k < n; k++)
                if (!isfinite(w[k])) abort();
        }
        mxb_model_free(m);
    } else {
        if (m) abort();
        fz_check_err(err);
    }
    /* the evaluation transform's attributes (eval_*), read by predict/explain/run */
    mxb_eval_transform t;
    err[0] = 0;
    int rc = mxb_weights_transform(path, &t, err, sizeof err);
    if (rc == 1 && (t.resize < 1 || t.crop < 0 || !(t.std[0] > 0 && t.std[1] > 0 && t.std[2] > 0))) abort();
    if (rc < 0) fz_check_err(err);
    fz_h5_no_open_ids();
    return 0;
}
