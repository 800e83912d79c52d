/* fuzz_task.c — task files (offline/task: a JSON object of variables, templates, judges and
 * defaults), read through their path; a task that loads must give messages for its first
 * iterations. Paths inside the file resolve against /proc/self/fd and so lead nowhere useful:
 * the scenario lines come from lines_override, a fixed scenario file in a second memory file,
 * every other input (the first byte's bit 0 off), so tasks with lines are reached too. */
#include "offline/task.h"
#include "base/pb.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char lines[] = "오늘 너무 기뻐요\tjoy\n시험을 망쳤어\tsadness\nplain line\n";
    char err[PB_ERR_LEN];
    struct task t;
    if (size < 1)
        return 0;
    const char *lines_path = NULL;
    if (!(data[0] & 1) && !(lines_path = fuzz_file(1, (const uint8_t *)lines, sizeof lines - 1)))
        return 0;
    const char *path = fuzz_file(0, data + 1, size - 1);
    if (!path)
        return 0;
    if (task_load(path, lines_path, &t, err) == PB_OK) {
        for (long i = 0; i < 4; i++) {
            struct task_message m = {0};
            if (task_message_of(&t, 7, i, &m, err) != PB_OK || !m.user)
                abort();
            task_message_clear(&m);
        }
        char buf[256];
        task_judges_text(&t, buf, sizeof buf);
        task_source_text(&t, buf, sizeof buf);
    }
    task_free(&t);
    return 0;
}
