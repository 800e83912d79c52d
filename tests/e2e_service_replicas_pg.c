/* e2e_service_replicas_pg.c — tests/e2e_service_replicas.c on PostgreSQL: three replicas on one
 * database of a server tests/pg_harness.h starts (a failure, never a skip, when it cannot),
 * plus a writer whose transaction commits after a later reward id. */
#define REPLICAS_ON_PG 1
#include "e2e_service_replicas.c"
