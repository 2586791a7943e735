/* mxb predict, mxb inspect. */
#include "engine/engine.h"
#include "harness/harness.h"
#include "harness/internal.h"
#include "results/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 512

static void predict_usage(FILE *f) {
    fprintf(f,
            "usage: mxb predict --weights W.h5 (--image IMG | --tensor T.h5[:DATASET]) [--out OUT.h5]\n"
            "                   [--device cpu|cuda[:N]|auto]\n"
            "  --weights W.h5        model weights (tools/convert_checkpoint.py makes them)\n"
            "  --image IMG           a JPEG or PNG, through the model's evaluation transform (stored in\n"
            "                        the weights file; mxb inspect shows it)\n"
            "  --tensor T.h5[:DSET]  an already normalised float32 [3,H,W] (default dataset 'input')\n"
            "  --out OUT.h5          write /logits [num_classes] and /input [3,H,W]\n"
            "  --top K               how many classes to print (default 5)\n"
            "  --device D            where the forward runs: cpu (default), cuda[:N] (a GPU: exit 2 when\n"
            "                        there is none) or auto (the GPU when there is one, else the CPU)\n"
            MXB_TRANSFORM_HELP);
}

int mxb_cmd_predict(int argc, char **argv) {
    const char *weights = NULL, *tensor = NULL, *out = NULL, *image = NULL, *device = NULL;
    int top = 5;
    mxb_transform_args ta = {0};
    mxb_opt opts[] = {MXB_OPT_S("weights", &weights), MXB_OPT_S("tensor", &tensor), MXB_OPT_S("image", &image),
                      MXB_OPT_S("out", &out),         MXB_OPT_I("top", &top, 1, 100000), MXB_TRANSFORM_OPTS(ta),
                      MXB_OPT_S("device", &device),   MXB_OPT_END};
    int prc = mxb_opts_parse("predict", argc, argv, opts, NULL, 0, NULL, predict_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (!weights) return mxb_usage_error("predict", "--weights is missing");
    if (!tensor == !image) return mxb_usage_error("predict", "give one of --image or --tensor");
    if (tensor && (mxb_opt_seen(opts, "resize") || mxb_opt_seen(opts, "crop") || mxb_opt_seen(opts, "square") ||
                   mxb_opt_seen(opts, "filter") || ta.mean || ta.std))
        return mxb_usage_error("predict", "the transform options apply to --image, not to --tensor");
    const char *ins[] = {weights, image, tensor}, *outs[] = {out};
    if (mxb_outputs_check("predict", ins, 3, outs, 1)) return 2;
    int gpu = -1;
    if (mxb_device_pick("predict", "--device", device, &gpu)) return 2;
    char err[ERRLEN];
    mxb_model *m = NULL;
    if (mxb_model_load(weights, &m, err, sizeof err)) {
        fprintf(stderr, "mxb predict: %s\n", err);
        return 2;
    }
    const mxb_config *cfg = mxb_model_config(m);
    int rc = 2;
    float *x = NULL, *logits = NULL;
    mxb_ctx *c = NULL;
    mxb_preprocess pre;
    if (image) {
        if (mxb_model_preprocess("predict", weights, cfg, NULL, &pre, err, sizeof err) < 0) {
            fprintf(stderr, "mxb predict: %s\n", err);
            goto done;
        }
        if (mxb_transform_apply("predict", opts, &ta, cfg, &pre)) goto done;
    }
    x = image ? mxb_load_input_image(image, cfg, &pre, NULL, err, sizeof err)
              : mxb_load_input_tensor(tensor, cfg, err, sizeof err);
    if (!x) {
        fprintf(stderr, "mxb predict: %s\n", err);
        goto done;
    }
    c = mxb_ctx_new(m, MXB_TRACE_NONE);
    logits = mxb_alloc((size_t)cfg->num_classes * sizeof(float), "logits");
    if (!c) {
        fprintf(stderr, "mxb predict: out of memory\n");
        rc = 1;
        goto done;
    }
    if (gpu >= 0) { /* the GPU backend's batched forward, one image */
        mxb_gpu *g = NULL;
        if (mxb_gpu_new(m, gpu, 1, &g, err, sizeof err) || mxb_gpu_forward(g, x, 1, logits, err, sizeof err)) {
            fprintf(stderr, "mxb predict: %s\n", err);
            mxb_gpu_free(g);
            rc = 1;
            goto done;
        }
        mxb_gpu_free(g);
    } else {
        mxb_forward(c, x, logits);
    }
    mxb_print_topk(logits, cfg->num_classes, top);
    if (out) {
        mxb_h5out *o = mxb_h5out_create(out, err, sizeof err);
        int64_t nc = cfg->num_classes, in[3] = {cfg->in_chans, cfg->img_size, cfg->img_size};
        if (!o || mxb_h5out_floats(o, "logits", logits, 1, &nc, err, sizeof err) ||
            mxb_h5out_floats(o, "input", x, 3, in, err, sizeof err) ||
            mxb_h5out_attr_str(o, "logits", "layout", "[class]", err, sizeof err) ||
            mxb_h5out_attr_str(o, "input", "layout", "[channel, y, x] normalised (mean/std), as the model sees it", err, sizeof err) ||
            mxb_h5out_string_attr(o, "weights", weights, err, sizeof err) ||
            (mxb_h5out_commit(o, err, sizeof err) ? (o = NULL, 1) : 0)) { /* commit frees o */
            if (o) mxb_h5out_abort(o);
            fprintf(stderr, "mxb predict: %s\n", err);
            rc = 1;
            goto done;
        }
    }
    rc = 0;
done:
    free(x);
    free(logits);
    mxb_ctx_free(c);
    mxb_model_free(m);
    return rc;
}

static void inspect_usage(FILE *f) {
    fprintf(f, "usage: mxb inspect W.h5   (prints the model config, evaluation transform, parameter count and the checkpoint it came from)\n");
}

int mxb_cmd_inspect(int argc, char **argv) {
    const char *pos[1];
    int npos = 0;
    mxb_opt opts[] = {MXB_OPT_END};
    int prc = mxb_opts_parse("inspect", argc, argv, opts, pos, 1, &npos, inspect_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos != 1) return mxb_usage_error("inspect", "no weights file");
    argv[1] = (char *)pos[0];
    char err[ERRLEN];
    mxb_model *m = NULL;
    if (mxb_model_load(argv[1], &m, err, sizeof err)) {
        fprintf(stderr, "mxb inspect: %s\n", err);
        return 2;
    }
    const mxb_config *c = mxb_model_config(m);
    printf("file          %s\n", argv[1]);
    printf("arch          %s\n", mxb_arch_name(c->arch));
    printf("img_size      %d\npatch_size    %d\nin_chans      %d\nnum_classes   %d\n", c->img_size,
           c->patch_size, c->in_chans, c->num_classes);
    printf("embed_dim     %d\ndepth         %d\nnorm_eps      %g\nfinal_norm_eps %g\n",
           c->embed_dim, c->depth, c->norm_eps, c->final_norm_eps);
    if (c->arch == MXB_ARCH_VIT)
        printf("num_heads     %d\nmlp_hidden    %d\nqkv_bias      %d\n", c->num_heads,
               c->mlp_hidden, c->qkv_bias);
    else
        printf("d_state       %d\nd_inner       %d\ndt_rank       %d\nd_conv        %d\n"
               "cls_position  %d\n",
               c->d_state, c->d_inner, c->dt_rank, c->d_conv, c->cls_pos);
    printf("tokens        %d (grid %dx%d + class token)\n", c->seq_len, c->grid, c->grid);
    printf("tensors       %d\nparameters    %zu\n", mxb_model_num_params(m), mxb_model_param_count(m));
    mxb_eval_transform t;
    int has = mxb_weights_transform(argv[1], &t, err, sizeof err);
    if (has < 0) {
        fprintf(stderr, "mxb inspect: %s\n", err);
        mxb_model_free(m);
        return 2;
    }
    if (has) {
        mxb_preprocess pre = {t.resize, t.square, t.crop,
                              !strcmp(t.interpolation, "bicubic")    ? MXB_FILTER_BICUBIC
                              : !strcmp(t.interpolation, "bilinear") ? MXB_FILTER_BILINEAR
                                                                     : MXB_FILTER_NEAREST,
                              {t.mean[0], t.mean[1], t.mean[2]}, {t.std[0], t.std[1], t.std[2]}};
        char d[200];
        mxb_preprocess_describe(&pre, d, sizeof d);
        printf("transform     %s\n", d);
    }
    else
        printf("transform     none stored (an older conversion: commands fall back to ImageNet's)\n");
    char source[4096], sha[160];
    if (mxb_weights_source(argv[1], source, sizeof source, sha, sizeof sha, err, sizeof err)) {
        fprintf(stderr, "mxb inspect: %s\n", err);
        mxb_model_free(m);
        return 2;
    }
    printf("source        %s\n", source[0] ? source : "none recorded");
    printf("source_sha256 %s\n", sha[0] ? sha : "none recorded");
    mxb_model_free(m);
    return 0;
}
