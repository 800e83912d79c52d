/* fuzz_sim_world.c — the simulator's world descriptions, from the command line or a JSON file
 * (sim/simarm: arm specs and {"arms": [...]}; sim/ctxworld: contextual specs and JSON). The
 * input goes to all four parsers; whatever parses and checks must give finite means. */
#include "sim/ctxworld.h"
#include "sim/simarm.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

#include <math.h>

static void arms(pb_status (*parse)(const char *, sim_arm **, size_t *, char *), const char *s)
{
    char err[PB_ERR_LEN];
    sim_arm *a = NULL;
    size_t n = 0;
    if (parse(s, &a, &n, err) == PB_OK && sim_arms_check(a, n, err) == PB_OK)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(sim_arm_mean(&a[i])))
                abort();
    free(a);
}

static void world(pb_status (*parse)(const char *, ctxworld *, char *), const char *s)
{
    char err[PB_ERR_LEN];
    static ctxworld w;
    memset(&w, 0, sizeof w);
    if (parse(s, &w, err) == PB_OK && ctxworld_check(&w, err) == PB_OK) {
        if (ctxworld_dim(&w) > CTXWORLD_MAX_DIM || !isfinite(ctxworld_oracle_value(&w)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    arms(sim_arms_parse, s);
    arms(sim_arms_from_json, s);
    world(ctxworld_parse, s);
    world(ctxworld_from_json, s);
    free(s);
    return 0;
}
