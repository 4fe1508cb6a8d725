/*
 * runner.c - the one Check runner: every suite, in this order.
 *
 * Fork mode (Check's default) so that a crash fails one test, not the run.
 * Select one suite with CK_RUN_SUITE=verify, one case with CK_RUN_CASE
 * (tests/README).
 */
#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	Suite *(*const suites[])(void) = {
		util_suite, log_suite, verify_suite, notif_suite, conf_suite,
		target_suite,
		store_suite, refusal_suite, walvfs_suite, sign_suite, client_suite,
		fixture_suite, e2e_protocol_suite, e2e_faults_suite,
		e2e_lifecycle_suite, hostile_suite, ctl_explain_suite,
		ctl_db_suite, ctl_simulate_suite, ops_suite, install_suite,
		proxy_suite, pathvar_suite, corpus_suite, pg_suite, store_pg_suite,
		e2e_pg_suite, alerts_suite,
	};
	SRunner *sr;
	size_t i;
	int failed;

	sr = srunner_create(NULL);
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
