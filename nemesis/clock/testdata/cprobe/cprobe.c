/* cprobe reports its clocks through libc (which calls the vDSO), for the
 * tests of package clock. For each line read on stdin it prints
 *
 *   rt=<CLOCK_REALTIME ns> rtc=<CLOCK_REALTIME_COARSE ns> gtod=<gettimeofday ns> time=<time() s> mono=<CLOCK_MONOTONIC ns>
 */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static long long ns(clockid_t id) {
	struct timespec ts;
	if (clock_gettime(id, &ts) != 0)
		return -1;
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
	char line[256];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, stdin)) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		printf("rt=%lld rtc=%lld gtod=%lld time=%lld mono=%lld\n",
		       ns(CLOCK_REALTIME), ns(CLOCK_REALTIME_COARSE),
		       (long long)tv.tv_sec * 1000000000LL + (long long)tv.tv_usec * 1000LL,
		       (long long)time(NULL), ns(CLOCK_MONOTONIC));
	}
	return 0;
}
