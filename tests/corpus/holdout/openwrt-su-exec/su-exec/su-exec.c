/* su-exec stand-in: switch user and group id, then exec (usage: su-exec USER[:GROUP] CMD...) */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr, "Usage: %s user-spec command [args]\n", argv[0]);
		return 1;
	}
	char *user = argv[1], *group = strchr(user, ':');
	if (group)
		*group++ = '\0';
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "%s: unknown user %s\n", argv[0], user);
		return 1;
	}
	gid_t gid = pw->pw_gid;
	if (group) {
		struct group *gr = getgrnam(group);
		if (!gr) {
			fprintf(stderr, "%s: unknown group %s\n", argv[0], group);
			return 1;
		}
		gid = gr->gr_gid;
	}
	setenv("HOME", pw->pw_dir, 1);
	if (initgroups(pw->pw_name, gid) < 0 || setgid(gid) < 0 || setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "%s: %s: %s\n", argv[0], argv[2], strerror(errno));
	return 1;
}
