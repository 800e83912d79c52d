/* fuzz_config.c — the configuration file (base/config: a JSON object of known keys), read
 * through its path as `--config` / PB_CONFIG would. A config that loads must answer every key
 * with a value and a display string. */
#include "base/config.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PB_ERR_LEN];
    config *cfg = NULL;
    const char *path = fuzz_file(0, data, size);
    if (!path)
        return 0;
    if (config_load(path, &cfg, err) == PB_OK) {
        for (size_t i = 0; i < config_count(); i++) {
            const char *k = config_key_at(i);
            if (!config_display(cfg, k) || !config_source(cfg, k))
                abort();
        }
        config_free(cfg);
    }
    return 0;
}
