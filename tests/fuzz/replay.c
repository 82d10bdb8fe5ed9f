/*
 * replay: runs a libFuzzer target's entry point over every file of a corpus
 * directory (or the files named), so `make check` exercises each fuzz target
 * with the ordinary compiler and sanitizers, without libFuzzer.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f;
	struct stat st;
	uint8_t *d;
	size_t n;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	d = malloc((size_t)st.st_size + 1);
	if (d == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(d, 1, (size_t)st.st_size, f);
	fclose(f);
	LLVMFuzzerTestOneInput(d, n);
	free(d);
	return 1;
}

int
main(int argc, char **argv)
{
	struct stat st;
	struct dirent *de;
	DIR *dir;
	char path[4096];
	int i, n = 0, r;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			dir = opendir(argv[i]);
			if (dir == NULL)
				return 1;
			while ((de = readdir(dir)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i],
				    de->d_name);
				r = run_file(path);
				if (r < 0)
					return 1;
				n += r;
			}
			closedir(dir);
		} else {
			r = run_file(argv[i]);
			if (r < 0)
				return 1;
			n += r;
		}
	}
	/* Always try the empty input too. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("replayed %d inputs\n", n + 1);
	return 0;
}
