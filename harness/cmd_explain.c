/* mxb explain, mxb methods. */
#include "harness/internal.h"

#include "io/io.h"
#include "metrics/metrics.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 512

static void methods_usage(FILE *f) {
    fprintf(f, "usage: mxb [--plugin LIB.so]... methods [--plugin LIB.so]... [--format text|json]\n"
               "  lists the built-in and loaded methods: families, needs, map kind, cost per image at\n"
               "  DeiT-S / ViM-S and every parameter (json: one object per method, the same fields)\n");
}

/* mxb methods --format json: the text listing's fields, one object per method */
static int methods_json(void) {
    mxb_config deit = mxb_config_preset("deit-s"), vim = mxb_config_preset("vim-s");
    if (mxb_config_finish(&deit, NULL, 0) || mxb_config_finish(&vim, NULL, 0)) return 1;
    printf("{\n  \"methods\": [");
    for (int i = 0; i < mxb_methods_count(); i++) {
        const mxb_method *m = mxb_methods_get(i);
        const int v2 = m->abi_version >= 2;
        const char *path = NULL, *sha = NULL;
        printf("%s\n    {\"name\": ", i ? "," : "");
        mxb_json_string(stdout, m->name);
        printf(", \"models\": [%s%s%s], \"class_specific\": %s, \"abi\": %u, \"family\": ",
               m->archs & MXB_METHOD_VIT ? "\"vit\"" : "", (m->archs & MXB_METHOD_VIT) && (m->archs & MXB_METHOD_VIM) ? ", " : "",
               m->archs & MXB_METHOD_VIM ? "\"vim\"" : "", m->class_specific ? "true" : "false", m->abi_version);
        if (v2 && m->family) mxb_json_string(stdout, m->family);
        else printf("null");
        printf(", \"needs\": [%s%s%s%s%s], \"map\": \"%s\", \"description\": ",
               m->needs & MXB_NEEDS_GRADIENT ? "\"grad\"" : "",
               (m->needs & MXB_NEEDS_GRADIENT) && (m->needs & (MXB_NEEDS_RELEVANCE | MXB_NEEDS_MODEL)) ? ", " : "",
               m->needs & MXB_NEEDS_RELEVANCE ? "\"lrp\"" : "",
               (m->needs & MXB_NEEDS_RELEVANCE) && (m->needs & MXB_NEEDS_MODEL) ? ", " : "",
               m->needs & MXB_NEEDS_MODEL ? "\"model\"" : "", v2 && m->map_kind == MXB_MAP_PIXELS ? "pixels" : "patches");
        mxb_json_string(stdout, m->description ? m->description : "");
        printf(", \"plugin\": ");
        if (mxb_method_origin(m, &path, &sha)) {
            printf("{\"path\": "), mxb_json_string(stdout, path), printf(", \"sha256\": "), mxb_json_string(stdout, sha);
            printf("}");
        } else {
            printf("null");
        }
        mxb_cost cost;
        const mxb_config *g = (m->archs & MXB_METHOD_VIT) ? &deit : &vim;
        if (!mxb_explain_cost(g, m, NULL, &cost))
            printf(", \"cost\": {\"geometry\": \"%s\", \"traced_forwards\": %.17g, \"backwards\": %.17g, "
                   "\"plain_forwards\": %.17g, \"lrp_passes\": %.17g, \"scratch_bytes\": %zu}",
                   (m->archs & MXB_METHOD_VIT) ? "deit-s" : "vim-s", cost.traced_forwards, cost.backwards,
                   cost.plain_forwards, cost.lrp_passes, cost.scratch_bytes);
        else
            printf(", \"cost\": null");
        printf(", \"params\": [");
        for (int j = 0; v2 && j < m->nparams; j++) {
            const mxb_param_spec *p = &m->params[j];
            printf("%s{\"name\": ", j ? ", " : "");
            mxb_json_string(stdout, p->name);
            if (p->type == MXB_PARAM_CHOICE) {
                double d = p->def;
                char def[64];
                mxb_method_params_format(&(mxb_method){.abi_version = 2, .name = m->name, .params = p, .nparams = 1},
                                         &d, def, sizeof def);
                printf(", \"type\": \"choice\", \"choices\": "), mxb_json_string(stdout, p->choices);
                printf(", \"default\": "), mxb_json_string(stdout, strchr(def, '=') + 1);
            } else {
                printf(", \"type\": \"%s\", \"min\": %.17g, \"max\": %.17g, \"default\": %.17g",
                       p->type == MXB_PARAM_INT ? "int" : "real", p->min, p->max, p->def);
            }
            printf(", \"help\": "), mxb_json_string(stdout, p->help ? p->help : ""), printf("}");
        }
        printf("]}");
    }
    printf("\n  ]\n}\n");
    return 0;
}

int mxb_cmd_methods(int argc, char **argv) {
    const char *plugins[16];
    int nplugins = 0, json = 0;
    mxb_opt opts[] = {MXB_OPT_L("plugin", plugins, &nplugins, 16), MXB_OPT_C("format", &json, "text|json"), MXB_OPT_END};
    int prc = mxb_opts_parse("methods", argc, argv, opts, NULL, 0, NULL, methods_usage);
    if (prc) return prc == 1 ? 0 : 2;
    if (mxb_load_plugins("methods", plugins, nplugins)) return 2;
    if (json) return methods_json();
    printf("%-16s %-8s %-9s %-3s %-12s %-14s %-7s %s\n", "method", "models", "class", "abi", "family", "needs", "map",
           "description");
    /* cost per image at the paper's geometries (DeiT-S for ViT methods, ViM-S otherwise) */
    mxb_config deit = mxb_config_preset("deit-s"), vim = mxb_config_preset("vim-s");
    /* the derived fields (seq_len, grid, ...) a method's cost() may read */
    if (mxb_config_finish(&deit, NULL, 0) || mxb_config_finish(&vim, NULL, 0)) return 1;
    for (int i = 0; i < mxb_methods_count(); i++) {
        const mxb_method *m = mxb_methods_get(i);
        const int v2 = m->abi_version >= 2;
        char needs[64] = "";
        if (m->needs & MXB_NEEDS_GRADIENT) strcat(needs, "grad,");
        if (m->needs & MXB_NEEDS_RELEVANCE) strcat(needs, "lrp,");
        if (m->needs & MXB_NEEDS_MODEL) strcat(needs, "model,");
        if (needs[0]) needs[strlen(needs) - 1] = 0;
        else strcpy(needs, "-");
        printf("%-16s %-8s %-9s %-3u %-12s %-14s %-7s %s\n", m->name,
               (m->archs & MXB_METHOD_VIT) && (m->archs & MXB_METHOD_VIM) ? "vit,vim"
               : (m->archs & MXB_METHOD_VIT)                              ? "vit"
                                                                          : "vim",
               m->class_specific ? "specific" : "agnostic", m->abi_version, v2 && m->family ? m->family : "-",
               needs, v2 && m->map_kind == MXB_MAP_PIXELS ? "pixels" : "patches",
               m->description ? m->description : "");
        mxb_cost cost;
        const mxb_config *g = (m->archs & MXB_METHOD_VIT) ? &deit : &vim;
        const int crc = mxb_explain_cost(g, m, NULL, &cost);
        char why[800];
        if (!crc)
            printf("%16s cost per image (%s, defaults): %g traced forwards, %g backwards, %g plain forwards, "
                   "%g LRP passes, %zu scratch bytes\n", "", (m->archs & MXB_METHOD_VIT) ? "deit-s" : "vim-s",
                   cost.traced_forwards, cost.backwards, cost.plain_forwards, cost.lrp_passes, cost.scratch_bytes);
        else if (crc == -2) /* never printed as if real: a run of it is refused */
            mxb_explain_cost_why(g, m, NULL, crc, why, sizeof why),
                printf("%16s cost per image: not usable: %s\n", "", why);
        for (int j = 0; v2 && j < m->nparams; j++) {
            const mxb_param_spec *p = &m->params[j];
            if (p->type == MXB_PARAM_CHOICE) {
                double d = p->def;
                char def[64];
                mxb_method_params_format(&(mxb_method){.abi_version = 2, .name = m->name, .params = p, .nparams = 1},
                                         &d, def, sizeof def);
                printf("%16s param %-12s choice %s (default %s): %s\n", "", p->name, p->choices,
                       strchr(def, '=') + 1, p->help ? p->help : "");
            } else {
                printf("%16s param %-12s %-6s [%g, %g] (default %g): %s\n", "", p->name,
                       p->type == MXB_PARAM_INT ? "int" : "real", p->min, p->max, p->def, p->help ? p->help : "");
            }
        }
    }
    return 0;
}

static void explain_usage(FILE *f) {
    fprintf(f,
            "usage: mxb [--plugin LIB.so]... explain --weights W.h5 (--image IMG | --images SPEC |\n"
            "           --tensor T.h5[:DATASET]) --method NAME [options]\n"
            "  --image IMG            a JPEG or PNG, through the model's evaluation transform (stored in the\n"
            "                         weights file; mxb inspect shows it)\n"
            "  --images SPEC          many images, the weights loaded once: a folder (its image files and its\n"
            "                         sub-folders'), a quoted pattern ('dir/*.png') or a list file (one path a\n"
            "                         line, '#' comments); --out then holds a row per image; stops at the first\n"
            "                         image that cannot be read (no output file then)\n"
            "  --tensor T.h5[:DSET]   an already normalised float32 [3,H,W] (default dataset 'input')\n"
            "  --method NAME          a built-in or a plugin's method (mxb methods lists them)\n"
            "  --variant V            ViM models only: hidden attention official (default) | exact | uia |\n"
            "                         uia-noconv | uia-nogate | uia-noact (UIA's CLS row and its ablations)\n"
            "  --class K              explain class K (default: the predicted class)\n"
            "  --start-layer N        first layer of rollout/attribution/raw (default: the method's)\n"
            "  --out OUT.h5           write /logits /class /map [grid,grid] /map_upsampled [H,W]; with\n"
            "                         --images each with a leading [N] axis, and /image, /id [N]\n"
            "  --png OVERLAY.png      the map over the image as the model saw it (also --overlay; one image):\n"
            "                         by default show_cam_on_image's jet + image, divided by the maximum\n"
            "  --alpha A              with --png: a blend instead, (1 - A) x image + A x colour, A in [0, 1]\n"
            "  --colormap C           with --png: jet (default) | viridis | gray\n"
            "  --scale N              with --png: each pixel an N x N block (1..16, default 1)\n"
            "  --colorbar             with --png: the colour map as a bar on the right (top: the map's\n"
            "                         maximum, 1; bottom: 0; the map is min-max normalised)\n"
            "  --save-attention       with --out: /attention, every layer's (ViT [layer,head,L,L];\n"
            "                         ViM [layer,direction,L,L] channel mean, exact, image order),\n"
            "                         as mxb run's save_attention (results/SCHEMA.md; one image)\n"
            "  --param KEY=VALUE      a parameter of the method (repeatable; mxb methods lists them)\n"
            "  --seed N               the run seed of stochastic methods (smoothgrad, rise; default 0, as [run] seed);\n"
            "                         the method gets the image's seed, from N and the image's id (method.h)\n"
            "  --id ID                the image's id for its seed (default: the --image file name, or\n"
            "                         --tensor's DATASET); a run's id is the path relative to its data folder,\n"
            "                         and so is --images' for a folder (the file name for a pattern or list)\n"
            "  --quiet                no progress lines on stderr (--images)\n"
            "  --plugin LIB.so        load a method plugin (as mxb --plugin)\n"
            MXB_TRANSFORM_HELP);
}

int mxb_cmd_explain(int argc, char **argv) {
    const char *weights = NULL, *tensor = NULL, *image = NULL, *method_name = NULL, *out = NULL, *png = NULL,
               *overlay = NULL, *plugins[16], *param_kv[MXB_MAX_PARAMS], *seed_s = NULL,
               *image_id = NULL, *images = NULL;
    int nparam_kv = 0, quiet = 0;
    mxb_overlay_opts ov = {.scale = 1, .cmap = MXB_CMAP_JET, .alpha = -1};
    double params[MXB_MAX_PARAMS];
    unsigned long long run_seed = 0;
    mxb_explain_opts eo = {.class_index = -1, .variant = MXB_VARIANT_OFFICIAL, .start_layer = -1};
    int save_attn = 0, nplugins = 0, variant = 0;
    mxb_transform_args ta = {0};
    char err[ERRLEN];
    mxb_opt opts[] = {MXB_OPT_S("weights", &weights),
                      MXB_OPT_S("tensor", &tensor),
                      MXB_OPT_S("image", &image),
                      MXB_OPT_S("images", &images),
                      MXB_OPT_S("method", &method_name),
                      MXB_OPT_C("variant", &variant, MXB_VARIANT_CHOICES),
                      MXB_OPT_I("class", &eo.class_index, 0, 1000000),
                      MXB_OPT_I("start-layer", &eo.start_layer, 0, 1000000),
                      MXB_OPT_S("out", &out),
                      MXB_OPT_S("png", &png),
                      MXB_OPT_S("overlay", &overlay),
                      MXB_OPT_F("save-attention", &save_attn),
                      MXB_OPT_L("plugin", plugins, &nplugins, 16),
                      MXB_OPT_L("param", param_kv, &nparam_kv, MXB_MAX_PARAMS),
                      MXB_OPT_S("seed", &seed_s),
                      MXB_OPT_S("id", &image_id),
                      MXB_OPT_F("quiet", &quiet),
                      MXB_OPT_D("alpha", &ov.alpha, 0, 1),
                      MXB_OPT_C("colormap", &ov.cmap, MXB_COLORMAP_CHOICES),
                      MXB_OPT_I("scale", &ov.scale, 1, 16),
                      MXB_OPT_F("colorbar", &ov.colorbar),
                      MXB_TRANSFORM_OPTS(ta),
                      MXB_OPT_END};
    int prc = mxb_opts_parse("explain", argc, argv, opts, NULL, 0, NULL, explain_usage);
    if (prc) return prc == 1 ? 0 : 2;
    eo.variant = mxb_variant_from_choice(variant);
    if (!weights) return mxb_usage_error("explain", "--weights is missing");
    if (!!tensor + !!image + !!images != 1) return mxb_usage_error("explain", "give one of --image, --images or --tensor");
    if (!method_name) return mxb_usage_error("explain", "--method is missing");
    if (png && overlay) return mxb_usage_error("explain", "--png and --overlay are the same option; give one");
    if (overlay) png = overlay;
    if (save_attn && !out) return mxb_usage_error("explain", "--save-attention needs --out");
    static const char *const overlay_opts[] = {"alpha", "colormap", "scale", "colorbar"};
    for (int i = 0; i < 4; i++)
        if (!png && mxb_opt_seen(opts, overlay_opts[i]))
            return mxb_usage_error("explain", "--%s shapes the overlay; it needs --png", overlay_opts[i]);
    if (images && (png || save_attn || image_id))
        return mxb_usage_error("explain", "--%s takes one image (--image or --tensor), not --images",
                               png ? (overlay ? "overlay" : "png") : save_attn ? "save-attention" : "id");
    if (tensor && (mxb_opt_seen(opts, "resize") || mxb_opt_seen(opts, "crop") || mxb_opt_seen(opts, "square") ||
                   mxb_opt_seen(opts, "filter") || ta.mean || ta.std))
        return mxb_usage_error("explain", "the transform options apply to --image, not to --tensor");
    mxb_image_list list = {0};
    if (images && mxb_image_list_open(images, &list, err, sizeof err)) { /* every image noted as an input */
        fprintf(stderr, "mxb explain: %s\n", err);
        return 2;
    }
    const int N = images ? list.n : 1;
    const char *ins[] = {weights, image, tensor}, *outs[] = {out, png};
    if (mxb_outputs_check("explain", ins, 3, outs, 2) || mxb_load_plugins("explain", plugins, nplugins)) {
        mxb_image_list_free(&list);
        return 2;
    }
    const mxb_method *method = mxb_methods_find(method_name);
    if (!method) {
        fprintf(stderr, "mxb explain: unknown method '%s' (mxb methods lists them)\n", method_name);
        mxb_image_list_free(&list);
        mxb_methods_unload_plugins();
        return 2;
    }
    if (seed_s && mxb_parse_u64(seed_s, &run_seed)) {
        mxb_image_list_free(&list);
        mxb_methods_unload_plugins();
        return mxb_usage_error("explain", "--seed: '%s' is not an unsigned integer", seed_s);
    }
    /* the image's seed, as mxb run derives it from the image's id (methods/method.h) */
    if (!image_id && !images) {
        const char *src = image ? image : tensor, *colon = image ? NULL : strrchr(tensor, ':'), *slash = strrchr(src, '/');
        image_id = colon ? colon + 1 : slash ? slash + 1 : src;
    }
    /* the method's params, checked before anything is read */
    if (mxb_method_params_parse(method, param_kv, nparam_kv, params, err, sizeof err)) {
        fprintf(stderr, "mxb explain: %s\n", err);
        mxb_image_list_free(&list);
        mxb_methods_unload_plugins();
        return 2;
    }
    eo.params = params;
    char params_text[1024];
    mxb_method_params_format(method, params, params_text, sizeof params_text);
    mxb_model *m = NULL;
    if (mxb_model_load(weights, &m, err, sizeof err)) {
        fprintf(stderr, "mxb explain: %s\n", err);
        mxb_image_list_free(&list);
        mxb_methods_unload_plugins();
        return 2;
    }
    const mxb_config *g = mxb_model_config(m);
    const int S = g->img_size, G = g->grid, nc = g->num_classes;
    int rc = 2;
    int32_t *explained = NULL;
    float *x = NULL, *logits = NULL, *map = NULL, *up = NULL, *pixels = NULL;
    const int pixel_method = method->abi_version >= 2 && method->map_kind == MXB_MAP_PIXELS;
    uint8_t *rgb = NULL;
    mxb_ctx *c = NULL, *pool[8] = {0};
    int npool = 0;
    mxb_preprocess pre;
    mxb_progress prog;
    if (mxb_opt_seen(opts, "variant") && g->arch != MXB_ARCH_VIM) {
        mxb_usage_error("explain", "--variant: applies to ViM models only; %s is a %s model", weights,
                        mxb_arch_name(g->arch));
        goto done;
    }
    if (!(method->archs & (1u << g->arch))) {
        mxb_seterr(err, sizeof err, "method '%s' does not support %s models (%s)", method->name, mxb_arch_name(g->arch),
                 weights);
        goto fail;
    }
    /* the transform: the model's, or what the options say (for --tensor, its mean/std
     * undo the normalisation for the overlay) */
    if ((!tensor || png) && mxb_model_preprocess("explain", weights, g, NULL, &pre, err, sizeof err) < 0) goto fail;
    if (!tensor && mxb_transform_apply("explain", opts, &ta, g, &pre)) goto done;
    c = mxb_ctx_new(m, MXB_TRACE_KEEP);
    /* every image's results are kept for the one output file; sizes from the model's
     * checked configuration, times the number of images */
    explained = mxb_try_alloc((size_t)N * sizeof *explained);
    logits = mxb_try_alloc((size_t)N * nc * sizeof *logits);
    map = mxb_try_alloc((size_t)N * G * G * sizeof *map);
    up = mxb_try_alloc((size_t)N * S * S * sizeof *up);
    if (pixel_method) pixels = mxb_try_alloc((size_t)N * S * S * sizeof *pixels);
    if (!c || !explained || !logits || !map || !up || (pixel_method && !pixels)) {
        mxb_seterr(err, sizeof err, "out of memory for the model's buffers and %d images' results", N);
        rc = 1;
        goto fail;
    }
    /* a method that runs the model gets one plain context per thread for forward_many */
    if (method->abi_version >= 2 && (method->needs & MXB_NEEDS_MODEL)) {
        npool = omp_get_max_threads();
        npool = npool < 1 ? 1 : npool > 8 ? 8 : npool;
        for (int i = 0; i < npool; i++) pool[i] = mxb_ctx_new(m, MXB_TRACE_NONE);
        eo.pool = pool, eo.npool = npool;
    }
    mxb_progress_init(&prog, "explain", "images", N, quiet || !images);
    const int vim = g->arch == MXB_ARCH_VIM;
    for (int i = 0; i < N; i++) {
        const char *src = images ? list.path[i] : image;
        float *li = logits + (size_t)i * nc, *mi = map + (size_t)i * G * G, *ui = up + (size_t)i * S * S;
        free(x);
        if (!(x = tensor ? mxb_load_input_tensor(tensor, g, err, sizeof err)
                         : mxb_load_input_image(src, g, &pre, NULL, err, sizeof err)))
            goto fail;
        eo.seed = mxb_image_seed(run_seed, images ? list.id[i] : image_id);
        if (pixel_method) eo.pixel_map = pixels + (size_t)i * S * S;
        int cls = -1;
        if (mxb_explain_one(c, m, method, x, &eo, li, &cls, mi, err, sizeof err)) goto fail;
        explained[i] = cls;
        /* a flat map is "no relevance": zeros in map_upsampled and no heat in the overlay */
        mxb_map_postprocess(mi, G, S / G, MXB_FLAT_ZERO, ui);
        if (images) printf("%s== %s\n", i ? "\n" : "", src);
        printf("method %s, explained class %d (%s)%s%s%s\n", method->name, cls,
               eo.class_index < 0 ? "predicted" : "given", vim ? ", " : "",
               vim ? mxb_variant_name(mxb_explain_rows(method, eo.variant)) : "", vim ? " hidden attention" : "");
        mxb_print_topk(li, nc, 5, NULL);
        mxb_progress_show(&prog, "explained", i + 1);
    }
    mxb_progress_end(&prog, "explained");
    rc = 1;
    if (out) {
        mxb_h5out *o = mxb_h5out_create(out, err, sizeof err);
        const int b = images != NULL; /* a batch: a leading image axis */
        const int64_t ld[1] = {nc}, gd[2] = {G, G}, sd[2] = {S, S}, n = N;
        if (!o || mxb_h5out_per_image(o, "logits", logits, b, N, 1, ld, "[class]", err, sizeof err) ||
            mxb_h5out_ints(o, "class", explained, b, &n, err, sizeof err) ||
            mxb_h5out_attr_str(o, "class", "layout", b ? "[image] the class explained" : "scalar: the class explained", err, sizeof err) ||
            mxb_h5out_per_image(o, "map", map, b, N, 2, gd, "[patch row, patch column] relevance, class token removed",
                                err, sizeof err) ||
            mxb_h5out_per_image(o, "map_upsampled", up, b, N, 2, sd,
                                "[y, x] relevance, bilinear to the input, min-max normalised", err, sizeof err) ||
            mxb_h5out_string_attr(o, "method", method->name, err, sizeof err) ||
            mxb_h5out_string_attr(o, "method_params", params_text, err, sizeof err) ||
            (pixel_method && mxb_h5out_per_image(o, "map_pixels", pixels, b, N, 2, sd,
                                                 "[y, x] the method's pixel map (channels reduced); /map is its patch mean",
                                                 err, sizeof err)) ||
            (b && mxb_image_list_write(o, &list, 1, err, sizeof err)) ||
            mxb_h5out_string_attr(o, "variant", mxb_variant_name(mxb_explain_rows(method, eo.variant)), err, sizeof err) ||
            mxb_h5out_string_attr(o, "class_choice", eo.class_index < 0 ? "predicted" : "given", err, sizeof err) ||
            mxb_h5out_string_attr(o, "weights", weights, err, sizeof err) ||
            mxb_h5out_string_attr(o, "input", images ? images : image ? image : tensor, err, sizeof err) ||
            (save_attn && mxb_attention_write(o, "attention", c, g, mxb_explain_rows(method, eo.variant), err, sizeof err)) ||
            (mxb_h5out_commit(o, err, sizeof err) ? (o = NULL, 1) : 0)) { /* commit frees o */
            if (o) mxb_h5out_abort(o);
            goto fail;
        }
    }
    if (png) {
        if (g->in_chans != 3) {
            mxb_seterr(err, sizeof err, "%s: an overlay needs a 3-channel image", png);
            goto fail;
        }
        int pw, ph;
        rgb = mxb_overlay_render(&ov, x, pre.mean, pre.std, up, S, S, &pw, &ph);
        if (mxb_png_write(png, rgb, pw, ph, 3, err, sizeof err)) goto fail;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "mxb explain: %s\n", err);
done:
    free(x);
    free(explained);
    free(logits);
    free(map);
    free(up);
    free(pixels);
    free(rgb);
    mxb_ctx_free(c);
    for (int i = 0; i < npool; i++) mxb_ctx_free(pool[i]);
    mxb_model_free(m);
    mxb_methods_unload_plugins();
    mxb_image_list_free(&list);
    return rc;
}
