/* mxb predict, mxb inspect. */
#include "engine/engine.h"
#include "harness/harness.h"
#include "results/results.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 512

/* "file.h5:dataset" -> file, dataset (default `input`) */
static void split_tensor_arg(const char *arg, char *file, size_t fl, char *dset, size_t dl) {
    const char *colon = strrchr(arg, ':');
    if (colon && colon != arg) {
        snprintf(file, fl, "%.*s", (int)(colon - arg), arg);
        snprintf(dset, dl, "%s", colon + 1);
    } else {
        snprintf(file, fl, "%s", arg);
        snprintf(dset, dl, "input");
    }
}

float *mxb_load_input_tensor(const char *arg, const mxb_config *cfg, char *err, size_t errlen) {
    char file[4096], dset[256];
    split_tensor_arg(arg, file, sizeof file, dset, sizeof dset);
    float *x = NULL;
    int nd = 0;
    int64_t dims[8];
    if (mxb_h5_read_floats(file, dset, &x, &nd, dims, err, errlen)) return NULL;
    int64_t S = cfg->img_size;
    int ok = (nd == 3 && dims[0] == cfg->in_chans && dims[1] == S && dims[2] == S) ||
             (nd == 4 && dims[0] == 1 && dims[1] == cfg->in_chans && dims[2] == S && dims[3] == S);
    if (!ok) {
        snprintf(err, errlen, "%s: dataset '%s' has the wrong shape for this model (want [%d, %d, %d])",
                 file, dset, cfg->in_chans, cfg->img_size, cfg->img_size);
        free(x);
        return NULL;
    }
    for (int64_t i = 0; i < cfg->in_chans * S * S; i++)
        if (!isfinite(x[i])) {
            snprintf(err, errlen, "%s: dataset '%s' holds NaN or infinite values", file, dset);
            free(x);
            return NULL;
        }
    return x;
}

float *mxb_load_input_image(const char *path, const mxb_config *cfg, char *err, size_t errlen) {
    if (cfg->in_chans != 3) {
        snprintf(err, errlen, "%s: the model takes %d channels; --image makes RGB", path, cfg->in_chans);
        return NULL;
    }
    uint8_t *rgb = NULL;
    int h, w;
    if (mxb_image_read(path, 0, &rgb, &h, &w, err, errlen)) return NULL;
    /* DeiT's and ViM's evaluation transform, scaled to the model's input side */
    mxb_preprocess p = mxb_preprocess_imagenet();
    p.crop = cfg->img_size;
    p.size = (int)(cfg->img_size * 256.0 / 224.0);
    float *x = malloc((size_t)3 * cfg->img_size * cfg->img_size * sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
    } else if (mxb_preprocess_image(&p, rgb, h, w, NULL, x, err, errlen)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s: %s", path, err); /* name the image */
        snprintf(err, errlen, "%s", msg);
        free(x);
        x = NULL;
    }
    free(rgb);
    return x;
}

void mxb_print_topk(const float *logits, int n, int k) {
    double mx = logits[0], sum = 0;
    for (int i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < n; i++) sum += exp(logits[i] - mx);
    if (n < 1) return;
    int *used = calloc((size_t)n, sizeof *used);
    printf("class   probability   logit\n");
    for (int r = 0; r < k && r < n; r++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!used[i] && (best < 0 || logits[i] > logits[best])) best = i;
        used[best] = 1;
        printf("%5d   %11.6f   %9.4f\n", best, exp(logits[best] - mx) / sum, logits[best]);
    }
    free(used);
}

static void predict_usage(FILE *f) {
    fprintf(f,
            "usage: mxb predict --weights W.h5 (--image IMG | --tensor T.h5[:DATASET]) [--out OUT.h5]\n"
            "  --weights W.h5        model weights (tools/convert_checkpoint.py makes them)\n"
            "  --image IMG           a JPEG or PNG, preprocessed as DeiT/ViM evaluate: Resize(S*256/224,\n"
            "                        bicubic) + CenterCrop(S) + ImageNet mean/std, S the model's input\n"
            "  --tensor T.h5[:DSET]  an already normalised float32 [3,H,W] (default dataset 'input')\n"
            "  --out OUT.h5          write /logits [num_classes] and /input [3,H,W]\n"
            "  --top K               how many classes to print (default 5)\n");
}

int mxb_cmd_predict(int argc, char **argv) {
    static const struct option opts[] = {
        {"weights", required_argument, 0, 'w'},
        {"tensor", required_argument, 0, 't'}, {"out", required_argument, 0, 'o'},
        {"image", required_argument, 0, 'i'},
        {"top", required_argument, 0, 'k'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *weights = NULL, *tensor = NULL, *out = NULL, *image = NULL;
    int top = 5, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'w': weights = optarg; break;
        case 't': tensor = optarg; break;
        case 'i': image = optarg; break;
        case 'o': out = optarg; break;
        case 'k': top = atoi(optarg); break;
        case 'h': predict_usage(stdout); return 0;
        default: predict_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mxb predict: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!weights || !tensor == !image || top < 1) {
        fprintf(stderr, "mxb predict: need --weights and one of --image or --tensor (mxb predict --help)\n");
        return 2;
    }
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
    x = image ? mxb_load_input_image(image, cfg, err, sizeof err)
              : mxb_load_input_tensor(tensor, cfg, err, sizeof err);
    if (!x) {
        fprintf(stderr, "mxb predict: %s\n", err);
        goto done;
    }
    c = mxb_ctx_new(m, MXB_TRACE_NONE);
    logits = malloc((size_t)cfg->num_classes * sizeof(float));
    if (!c || !logits) {
        fprintf(stderr, "mxb predict: out of memory\n");
        rc = 1;
        goto done;
    }
    mxb_forward(c, x, logits);
    mxb_print_topk(logits, cfg->num_classes, top);
    if (out) {
        mxb_h5out *o = mxb_h5out_create(out, err, sizeof err);
        int64_t nc = cfg->num_classes, in[3] = {cfg->in_chans, cfg->img_size, cfg->img_size};
        if (!o || mxb_h5out_floats(o, "logits", logits, 1, &nc, err, sizeof err) ||
            mxb_h5out_floats(o, "input", x, 3, in, err, sizeof err) ||
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

int mxb_cmd_inspect(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
                "usage: mxb inspect W.h5   (prints the model config and parameter count)\n");
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
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
    mxb_model_free(m);
    return 0;
}
