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
            "usage: mxb predict --weights W.h5 (--image IMG | --images SPEC | --tensor T.h5[:DATASET])\n"
            "                   [--out OUT.h5] [--classes FILE] [--format text|json] [--device cpu|cuda[:N]|auto]\n"
            "  --weights W.h5        model weights (tools/convert_checkpoint.py makes them)\n"
            "  --image IMG           a JPEG or PNG, through the model's evaluation transform (stored in\n"
            "                        the weights file; mxb inspect shows it)\n"
            "  --images SPEC         many images, the weights loaded once: a folder (its image files and\n"
            "                        its sub-folders'), a quoted pattern ('dir/*.png') or a list file (one\n"
            "                        path a line, '#' comments); stops at the first image that cannot be\n"
            "                        read (no output file then)\n"
            "  --tensor T.h5[:DSET]  an already normalised float32 [3,H,W] (default dataset 'input')\n"
            "  --out OUT.h5          write /logits [num_classes] and /input [3,H,W]; with --images\n"
            "                        /logits [N,num_classes], /input [N,3,H,W] and /image [N] (the paths)\n"
            "  --classes FILE        class names, one a line (line i: class i - 1; mxb synth's classes.txt),\n"
            "                        printed beside the classes and written as /class_names\n"
            "  --top K               how many classes to print (default 5)\n"
            "  --format text|json    the top-K as tables (default) or one JSON object: {\"weights\", \"num_classes\",\n"
            "                        \"images\": [{\"input\", \"top\": [{\"class\", \"probability\", \"logit\"[, \"name\"]}]}]}\n"
            "  --quiet               no progress lines on stderr (--images)\n"
            "  --device D            where the forward runs: cpu (default), cuda[:N] (a GPU: exit 2 when\n"
            "                        there is none) or auto (the GPU when there is one, else the CPU)\n"
            MXB_TRANSFORM_HELP);
}

int mxb_cmd_predict(int argc, char **argv) {
    const char *weights = NULL, *tensor = NULL, *out = NULL, *image = NULL, *device = NULL, *images = NULL,
               *classes = NULL;
    int top = 5, json = 0, quiet = 0;
    mxb_transform_args ta = {0};
    mxb_opt opts[] = {MXB_OPT_S("weights", &weights), MXB_OPT_S("tensor", &tensor), MXB_OPT_S("image", &image),
                      MXB_OPT_S("images", &images),   MXB_OPT_S("out", &out),       MXB_OPT_I("top", &top, 1, 100000),
                      MXB_TRANSFORM_OPTS(ta),         MXB_OPT_S("device", &device), MXB_OPT_S("classes", &classes),
                      MXB_OPT_C("format", &json, "text|json"), MXB_OPT_F("quiet", &quiet), MXB_OPT_END};
    int prc = mxb_opts_parse("predict", argc, argv, opts, NULL, 0, NULL, predict_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (!weights) return mxb_usage_error("predict", "--weights is missing");
    if (!!tensor + !!image + !!images != 1) return mxb_usage_error("predict", "give one of --image, --images or --tensor");
    if (tensor && (mxb_opt_seen(opts, "resize") || mxb_opt_seen(opts, "crop") || mxb_opt_seen(opts, "square") ||
                   mxb_opt_seen(opts, "filter") || ta.mean || ta.std))
        return mxb_usage_error("predict", "the transform options apply to --image, not to --tensor");
    char err[ERRLEN];
    mxb_image_list list = {0};
    if (images) {
        if (mxb_image_list_open(images, &list, err, sizeof err)) { /* every image noted as an input */
            fprintf(stderr, "mxb predict: %s\n", err);
            return 2;
        }
    } else {
        list.n = 1;
    }
    const char *ins[] = {weights, image, tensor, classes}, *outs[] = {out};
    int rc = 2;
    if (mxb_outputs_check("predict", ins, 4, outs, 1)) goto free_list;
    int gpu = -1;
    if (mxb_device_pick("predict", "--device", device, &gpu)) goto free_list;
    mxb_model *m = NULL;
    if (mxb_model_load(weights, &m, err, sizeof err)) {
        fprintf(stderr, "mxb predict: %s\n", err);
        goto free_list;
    }
    const mxb_config *cfg = mxb_model_config(m);
    const int N = list.n, nc = cfg->num_classes;
    const size_t in_n = (size_t)cfg->in_chans * cfg->img_size * cfg->img_size;
    float *x = NULL, *logits = NULL;
    char **names = NULL;
    mxb_ctx *c = NULL;
    mxb_gpu *gp = NULL;
    mxb_preprocess pre;
    mxb_progress prog;
    if (classes && !(names = mxb_class_names_read(classes, nc, err, sizeof err))) {
        fprintf(stderr, "mxb predict: %s\n", err);
        goto done;
    }
    if (!tensor) {
        if (mxb_model_preprocess("predict", weights, cfg, NULL, &pre, err, sizeof err) < 0) {
            fprintf(stderr, "mxb predict: %s\n", err);
            goto done;
        }
        if (mxb_transform_apply("predict", opts, &ta, cfg, &pre)) goto done;
    }
    /* every image's input and logits are kept for the one output file */
    x = mxb_try_alloc((size_t)N * in_n * sizeof *x);
    logits = mxb_try_alloc((size_t)N * nc * sizeof *logits);
    c = gpu < 0 ? mxb_ctx_new(m, MXB_TRACE_NONE) : NULL;
    if (!x || !logits || (gpu < 0 && !c)) {
        fprintf(stderr, "mxb predict: out of memory for %d images' inputs and logits\n", N);
        rc = 1;
        goto done;
    }
    if (gpu >= 0 && mxb_gpu_new(m, gpu, 1, &gp, err, sizeof err)) { /* the GPU backend's batched forward */
        fprintf(stderr, "mxb predict: %s\n", err);
        rc = 1;
        goto done;
    }
    mxb_progress_init(&prog, "predict", "images", N, quiet || !images);
    if (json) printf("{\"weights\": "), mxb_json_string(stdout, weights), printf(", \"num_classes\": %d, \"images\": [", nc);
    for (int i = 0; i < N; i++) {
        const char *src = images ? list.path[i] : image ? image : tensor;
        float *xi = x + (size_t)i * in_n, *li = logits + (size_t)i * nc;
        float *loaded = tensor ? mxb_load_input_tensor(tensor, cfg, err, sizeof err)
                               : mxb_load_input_image(src, cfg, &pre, NULL, err, sizeof err);
        if (!loaded) {
            if (json) printf("\n");
            fprintf(stderr, "mxb predict: %s\n", err);
            goto done;
        }
        memcpy(xi, loaded, in_n * sizeof *xi);
        free(loaded);
        if (gp) {
            if (mxb_gpu_forward(gp, xi, 1, li, err, sizeof err)) {
                fprintf(stderr, "mxb predict: %s\n", err);
                rc = 1;
                goto done;
            }
        } else {
            mxb_forward(c, xi, li);
        }
        if (json) {
            printf("%s\n  {\"input\": ", i ? "," : ""), mxb_json_string(stdout, src), printf(", \"top\": ");
            mxb_json_topk(li, nc, top, (const char *const *)names);
            printf("}");
        } else {
            if (images) printf("%s== %s\n", i ? "\n" : "", src);
            mxb_print_topk(li, nc, top, (const char *const *)names);
        }
        mxb_progress_show(&prog, "predicted", i + 1);
    }
    if (json) printf("\n]}\n");
    mxb_progress_end(&prog, "predicted");
    if (out) {
        mxb_h5out *o = mxb_h5out_create(out, err, sizeof err);
        const int64_t ld[1] = {nc}, xd[3] = {cfg->in_chans, cfg->img_size, cfg->img_size}, cn = nc;
        const int b = images != NULL; /* a batch: a leading image axis */
        if (!o || mxb_h5out_per_image(o, "logits", logits, b, N, 1, ld, "[class]", err, sizeof err) ||
            mxb_h5out_per_image(o, "input", x, b, N, 3, xd,
                                "[channel, y, x] normalised (mean/std), as the model sees it", err, sizeof err) ||
            (b && mxb_image_list_write(o, &list, 0, err, sizeof err)) ||
            (names && mxb_h5out_strings(o, "class_names", (const char *const *)names, cn, err, sizeof err)) ||
            (names && mxb_h5out_string_attr(o, "classes", classes, err, sizeof err)) ||
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
    mxb_class_names_free(names, nc);
    mxb_gpu_free(gp);
    mxb_ctx_free(c);
    mxb_model_free(m);
free_list:
    if (images) mxb_image_list_free(&list);
    return rc;
}

static void inspect_usage(FILE *f) {
    fprintf(f, "usage: mxb inspect W.h5 [--format text|json]   (prints the model config, evaluation transform, parameter\n"
               "  count and the checkpoint it came from; json: one object, the same fields)\n");
}

/* one field of inspect: "name          value" or "name": value in the JSON object */
static void field_int(int json, const char *name, long long v) {
    if (json) printf(",\n  \"%s\": %lld", name, v);
    else printf("%-13s %lld\n", name, v);
}
static void field_num(int json, const char *name, double v) {
    if (json) printf(",\n  \"%s\": ", name), mxb_json_number(stdout, v);
    else printf("%-13s %g\n", name, v);
}
static void field_str(int json, const char *name, const char *v) { /* v NULL: none (json null) */
    if (json) {
        printf(",\n  \"%s\": ", name);
        if (v) mxb_json_string(stdout, v);
        else printf("null");
    } else {
        printf("%-13s %s\n", name, v ? v : "none recorded");
    }
}

int mxb_cmd_inspect(int argc, char **argv) {
    const char *pos[1];
    int npos = 0, json = 0;
    mxb_opt opts[] = {MXB_OPT_C("format", &json, "text|json"), MXB_OPT_END};
    int prc = mxb_opts_parse("inspect", argc, argv, opts, pos, 1, &npos, inspect_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (npos != 1) return mxb_usage_error("inspect", "no weights file");
    const char *file = pos[0];
    char err[ERRLEN];
    mxb_model *m = NULL;
    if (mxb_model_load(file, &m, err, sizeof err)) {
        fprintf(stderr, "mxb inspect: %s\n", err);
        return 2;
    }
    /* everything read before anything is printed: a failure leaves no half object */
    mxb_eval_transform t;
    int has = mxb_weights_transform(file, &t, err, sizeof err);
    char source[4096], sha[160];
    if (has < 0 || mxb_weights_source(file, source, sizeof source, sha, sizeof sha, err, sizeof err)) {
        fprintf(stderr, "mxb inspect: %s\n", err);
        mxb_model_free(m);
        return 2;
    }
    const mxb_config *c = mxb_model_config(m);
    if (json) printf("{\n  \"file\": "), mxb_json_string(stdout, file), printf(",\n  \"arch\": \"%s\"", mxb_arch_name(c->arch));
    else printf("file          %s\narch          %s\n", file, mxb_arch_name(c->arch));
    field_int(json, "img_size", c->img_size);
    field_int(json, "patch_size", c->patch_size);
    field_int(json, "in_chans", c->in_chans);
    field_int(json, "num_classes", c->num_classes);
    field_int(json, "embed_dim", c->embed_dim);
    field_int(json, "depth", c->depth);
    field_num(json, "norm_eps", c->norm_eps);
    if (json) field_num(json, "final_norm_eps", c->final_norm_eps);
    else printf("final_norm_eps %g\n", c->final_norm_eps); /* the one name longer than the column */
    if (c->arch == MXB_ARCH_VIT) {
        field_int(json, "num_heads", c->num_heads);
        field_int(json, "mlp_hidden", c->mlp_hidden);
        field_int(json, "qkv_bias", c->qkv_bias);
    } else {
        field_int(json, "d_state", c->d_state);
        field_int(json, "d_inner", c->d_inner);
        field_int(json, "dt_rank", c->dt_rank);
        field_int(json, "d_conv", c->d_conv);
        field_int(json, "cls_position", c->cls_pos);
    }
    if (json) printf(",\n  \"tokens\": %d, \"grid\": %d", c->seq_len, c->grid);
    else printf("tokens        %d (grid %dx%d + class token)\n", c->seq_len, c->grid, c->grid);
    field_int(json, "tensors", mxb_model_num_params(m));
    field_int(json, "parameters", (long long)mxb_model_param_count(m));
    if (has) {
        mxb_preprocess pre = {t.resize, t.square, t.crop,
                              !strcmp(t.interpolation, "bicubic")    ? MXB_FILTER_BICUBIC
                              : !strcmp(t.interpolation, "bilinear") ? MXB_FILTER_BILINEAR
                                                                     : MXB_FILTER_NEAREST,
                              {t.mean[0], t.mean[1], t.mean[2]}, {t.std[0], t.std[1], t.std[2]}};
        char d[200];
        mxb_preprocess_describe(&pre, d, sizeof d);
        if (json) {
            printf(",\n  \"transform\": {\"description\": "), mxb_json_string(stdout, d);
            printf(", \"resize\": %d, \"square\": %s, \"crop\": %d, \"interpolation\": ", t.resize,
                   t.square ? "true" : "false", t.crop);
            mxb_json_string(stdout, t.interpolation);
            printf(", \"mean\": [");
            for (int i = 0; i < 3; i++) printf("%s", i ? ", " : ""), mxb_json_number(stdout, t.mean[i]);
            printf("], \"std\": [");
            for (int i = 0; i < 3; i++) printf("%s", i ? ", " : ""), mxb_json_number(stdout, t.std[i]);
            printf("]}");
        } else {
            printf("transform     %s\n", d);
        }
    } else if (json) {
        printf(",\n  \"transform\": null");
    } else {
        printf("transform     none stored (an older conversion: commands fall back to ImageNet's)\n");
    }
    field_str(json, "source", source[0] ? source : NULL);
    field_str(json, "source_sha256", sha[0] ? sha : NULL);
    if (json) printf("\n}\n");
    mxb_model_free(m);
    return 0;
}
