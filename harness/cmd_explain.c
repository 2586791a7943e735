/* mxb explain, mxb methods. */
#include "harness/harness.h"
#include "results/results.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 512

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

int mxb_cmd_methods(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: mxb [--plugin LIB.so]... methods\n");
        return 2;
    }
    printf("%-16s %-8s %-9s %s\n", "method", "models", "class", "description");
    for (int i = 0; i < mxb_methods_count(); i++) {
        const mxb_method *m = mxb_methods_get(i);
        printf("%-16s %-8s %-9s %s\n", m->name,
               (m->archs & MXB_METHOD_VIT) && (m->archs & MXB_METHOD_VIM) ? "vit,vim"
               : (m->archs & MXB_METHOD_VIT)                              ? "vit"
                                                                          : "vim",
               m->class_specific ? "specific" : "agnostic", m->description ? m->description : "");
    }
    return 0;
}

static void explain_usage(FILE *f) {
    fprintf(f,
            "usage: mxb [--plugin LIB.so]... explain --weights W.h5 --tensor T.h5[:DATASET]\n"
            "           --method NAME [options]\n"
            "  --method NAME          raw-attention | rollout | attribution | a plugin's (mxb methods)\n"
            "  --variant V            ViM hidden attention: official (default) | exact\n"
            "  --class K              explain class K (default: the predicted class)\n"
            "  --start-layer N        first layer of rollout/attribution/raw (default: the method's)\n"
            "  --out OUT.h5           write /logits /class /map [grid,grid] /map_upsampled [H,W]\n"
            "  --png OVERLAY.png      heatmap over the image (ImageNet mean/std undone)\n"
            "  --save-attention       with --out: per layer attention (ViT [heads,L,L] per block;\n"
            "                         ViM channel-mean [L,L] per direction, exact, image order)\n");
}

static int save_attention(mxb_h5out *o, mxb_ctx *c, const mxb_config *g, char *err,
                          size_t errlen) {
    const int64_t L = g->seq_len;
    char name[96];
    if (g->arch == MXB_ARCH_VIT) {
        const int64_t dims[3] = {g->num_heads, L, L};
        for (int b = 0; b < g->depth; b++) {
            snprintf(name, sizeof name, "attention/block_%02d", b);
            if (mxb_h5out_floats(o, name, mxb_vit_attn(c, b), 3, dims, err, errlen)) return -1;
        }
        return 0;
    }
    float *mean = malloc((size_t)(L * L) * sizeof *mean);
    const int64_t dims[2] = {L, L};
    int rc = 0;
    for (int l = 0; l < g->depth && !rc; l++)
        for (int d = 0; d < 2 && !rc; d++) {
            snprintf(name, sizeof name, "attention/layer_%02d/%s", l, d ? "backward" : "forward");
            rc = mxb_vim_hidden_attn_mean(c, l, d, 1, mean) ||
                 mxb_h5out_floats(o, name, mean, 2, dims, err, errlen);
        }
    free(mean);
    return rc ? -1 : 0;
}

int mxb_cmd_explain(int argc, char **argv) {
    static const struct option opts[] = {
        {"weights", required_argument, 0, 'w'}, {"tensor", required_argument, 0, 't'},
        {"method", required_argument, 0, 'm'},  {"variant", required_argument, 0, 'v'},
        {"class", required_argument, 0, 'c'},   {"start-layer", required_argument, 0, 's'},
        {"out", required_argument, 0, 'o'},     {"png", required_argument, 0, 'p'},
        {"save-attention", no_argument, 0, 'a'}, {"plugin", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    const char *weights = NULL, *tensor = NULL, *method_name = NULL, *out = NULL, *png = NULL;
    mxb_explain_opts eo = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1};
    int save_attn = 0, ch;
    char err[ERRLEN], *end;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'w': weights = optarg; break;
        case 't': tensor = optarg; break;
        case 'm': method_name = optarg; break;
        case 'o': out = optarg; break;
        case 'p': png = optarg; break;
        case 'a': save_attn = 1; break;
        case 'v':
            if (!strcmp(optarg, "official"))
                eo.variant = MXB_VARIANT_OFFICIAL;
            else if (!strcmp(optarg, "exact"))
                eo.variant = MXB_VARIANT_EXACT;
            else {
                fprintf(stderr, "mxb explain: --variant must be 'official' or 'exact', not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c':
        case 's': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 1000000) {
                fprintf(stderr, "mxb explain: --%s needs a non-negative integer, not '%s'\n",
                        ch == 'c' ? "class" : "start-layer", optarg);
                return 2;
            }
            *(ch == 'c' ? &eo.class_index : &eo.start_layer) = (int)v;
            break;
        }
        case 'P':
            if (mxb_methods_load_plugin(optarg, err, sizeof err)) {
                fprintf(stderr, "mxb explain: %s\n", err);
                return 2;
            }
            break;
        case 'h': explain_usage(stdout); return 0;
        default: explain_usage(stderr); return 2;
        }
    }
    if (optind < argc || !weights || !tensor || !method_name) {
        if (optind < argc) fprintf(stderr, "mxb explain: unexpected argument '%s'\n", argv[optind]);
        else fprintf(stderr, "mxb explain: need --weights, --tensor and --method\n");
        explain_usage(stderr);
        return 2;
    }
    if (save_attn && !out) {
        fprintf(stderr, "mxb explain: --save-attention needs --out\n");
        return 2;
    }
    const mxb_method *method = mxb_methods_find(method_name);
    if (!method) {
        fprintf(stderr, "mxb explain: unknown method '%s' (mxb methods lists them)\n", method_name);
        return 2;
    }
    mxb_model *m = NULL;
    if (mxb_model_load(weights, &m, err, sizeof err)) {
        fprintf(stderr, "mxb explain: %s\n", err);
        return 2;
    }
    const mxb_config *g = mxb_model_config(m);
    const int S = g->img_size, G = g->grid;
    int rc = 2, explained = -1;
    float *x = NULL, *logits = NULL, *map = NULL, *up = NULL;
    uint8_t *rgb = NULL;
    mxb_ctx *c = NULL;
    if (!(x = mxb_load_input_tensor(tensor, g, err, sizeof err))) goto fail;
    c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    logits = malloc((size_t)g->num_classes * sizeof *logits);
    map = malloc((size_t)G * G * sizeof *map);
    up = malloc((size_t)S * S * sizeof *up);
    if (!c || !logits || !map || !up) {
        snprintf(err, sizeof err, "out of memory");
        rc = 1;
        goto fail;
    }
    if (mxb_explain_one(c, m, method, x, &eo, logits, &explained, map, err, sizeof err)) goto fail;
    mxb_map_upsample(map, G, up, S);
    mxb_map_minmax(up, (size_t)S * S);
    printf("method %s, explained class %d (%s)%s\n", method->name, explained,
           eo.class_index < 0 ? "predicted" : "given",
           g->arch == MXB_ARCH_VIM ? (eo.variant ? ", exact hidden attention"
                                                  : ", official hidden attention")
                                   : "");
    mxb_print_topk(logits, g->num_classes, 5);
    rc = 1;
    if (out) {
        mxb_h5out *o = mxb_h5out_create(out, err, sizeof err);
        const int64_t nc = g->num_classes, gd[2] = {G, G}, sd[2] = {S, S};
        const int32_t cls = explained;
        if (!o || mxb_h5out_floats(o, "logits", logits, 1, &nc, err, sizeof err) ||
            mxb_h5out_ints(o, "class", &cls, 0, NULL, err, sizeof err) ||
            mxb_h5out_floats(o, "map", map, 2, gd, err, sizeof err) ||
            mxb_h5out_floats(o, "map_upsampled", up, 2, sd, err, sizeof err) ||
            mxb_h5out_string_attr(o, "method", method->name, err, sizeof err) ||
            mxb_h5out_string_attr(o, "variant", eo.variant ? "exact" : "official", err, sizeof err) ||
            mxb_h5out_string_attr(o, "class_choice", eo.class_index < 0 ? "predicted" : "given", err, sizeof err) ||
            mxb_h5out_string_attr(o, "weights", weights, err, sizeof err) ||
            (save_attn && save_attention(o, c, g, err, sizeof err)) ||
            (mxb_h5out_commit(o, err, sizeof err) ? (o = NULL, 1) : 0)) { /* commit frees o */
            if (o) mxb_h5out_abort(o);
            goto fail;
        }
    }
    if (png) {
        rgb = malloc((size_t)S * S * 3);
        if (g->in_chans != 3 || !rgb) {
            snprintf(err, sizeof err, "%s: an overlay needs a 3-channel image", png);
            goto fail;
        }
        mxb_overlay_heatmap(x, imagenet_mean, imagenet_std, up, S, S, rgb);
        if (mxb_png_write_rgb(png, rgb, S, S, err, sizeof err)) goto fail;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "mxb explain: %s\n", err);
done:
    free(x);
    free(logits);
    free(map);
    free(up);
    free(rgb);
    mxb_ctx_free(c);
    mxb_model_free(m);
    mxb_methods_unload_plugins();
    return rc;
}
