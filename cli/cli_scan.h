/*
 * cli_scan: "deckhand scan" -- scan this host (or --root DIR) for packages
 * and evaluate them against a patch baseline, printing the compliance
 * result as a table or JSON.  Also lists the upgradable set the way
 * "apt list --upgradable" does (--upgradable) or dumps the raw inventory
 * (--inventory), for comparing with peer tools.
 */
#ifndef CLI_SCAN_H
#define CLI_SCAN_H

/* Run "deckhand scan ..." (argv[0] is "scan"); returns the process exit
 * status: 0 compliant (or listing done), 1 non-compliant, 2 error. */
int cli_scan_main(int argc, char **argv);

/* Print the scan usage text to stdout (for "deckhand help"). */
void cli_scan_usage(void);

#endif
