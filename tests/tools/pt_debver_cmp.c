/*
 * pt_debver_cmp: batch driver for the dpkg version-order oracle test.  Reads
 * lines "A<TAB>B" on stdin and prints "R VA VB" per line: R is -1, 0 or 1
 * from pt_debver_cmp, VA/VB are 1 when pt_debver_parse accepts the version
 * (dpkg would not exit 2) and 0 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "dh_err.h"
#include "pt_debver.h"

static int
valid(const char *s, size_t n)
{
	struct pt_debver v;

	return pt_debver_parse(s, n, &v, NULL, NULL) == DH_OK;
}

int
main(void)
{
	char line[8192];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t n = strcspn(line, "\n");
		char *tab = memchr(line, '\t', n);
		size_t alen, blen;
		int r;

		if (tab == NULL) {
			fprintf(stderr, "pt_debver_cmp: line without a tab\n");
			return 2;
		}
		alen = (size_t)(tab - line);
		blen = n - alen - 1;
		r = pt_debver_cmp(line, alen, tab + 1, blen);
		printf("%d %d %d\n", r < 0 ? -1 : r > 0, valid(line, alen),
		    valid(tab + 1, blen));
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
