/* shop.c - the course's shop client: a text menu, or one subcommand per run
 * for scripts, over the conversation file MOUNT/shop (one request line
 * written, the reply read to EOF on the same open file; docs/PROTOCOL.md).
 * The session and what was bought live in a local state file, rewritten
 * atomically after each change; see docs/TOOLS.md.
 */
#define _GNU_SOURCE /* explicit_bzero */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define TOKEN_MAX 64
#define MSG_MAX 8192 /* what an operation tells the user */

void usage(FILE *out)
{
	fprintf(out,
		"usage: shop [--mount DIR] [--state FILE] [SUBCOMMAND [ARG...]]\n"
		"\n"
		"The rwfs shop.  Without a subcommand, a text menu on standard input\n"
		"(a terminal or a script): 1) login  2) view server inventory\n"
		"3) view local inventory  4) purchase  5) logout  0) quit.\n"
		"\n"
		"Subcommands, for scripts:\n"
		"  login USER     log in; the password is read from the terminal without\n"
		"                 echo, or as one line of standard input\n"
		"  list           the server's inventory, \"UPC NAME COUNT\" lines\n"
		"  buy UPC QTY    buy QTY units of product UPC\n"
		"  local          what this user bought with this client, \"UPC NAME QTY\"\n"
		"  logout         end the session\n"
		"  whoami         the user of the session\n"
		"\n"
		"  --mount DIR    the rwfs mount (default: $RWFS_MOUNT, else ./mnt)\n"
		"  --state FILE   the local state: session token and local inventory\n"
		"                 (default: $HOME/.rwfs-shop, else ./.rwfs-shop)\n"
		"  -h, --help     this text\n"
		"  -V, --version  the version\n"
		"\n"
		"Exit status: 0 when the shop said ok, 1 when it refused (the reason is\n"
		"on stderr, e.g. \"shop: insufficient stock: 1001 has 2\") or could not\n"
		"be reached, 2 on bad usage.  The menu exits 0 at 0) or end of input.\n");
}

struct bought {
	char *user, *name;
	long long upc;
	unsigned long long qty;
};

/* The local state file, as loaded. */
struct state {
	char *user;            /* of the session, or of the last one */
	char token[TOKEN_MAX + 1]; /* "" when logged out */
	struct bought *items;
	size_t n, cap;
};

struct shop {
	const char *mount;
	char *state_path;
	struct state st;
};

/* Outcome of an operation: the text for the user in msg. */
enum { DONE = 0, REFUSED = 1, FAILED = -1 };

/* The state file ---------------------------------------------------------- */

static void state_release(struct state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->items[i].user);
		free(st->items[i].name);
	}
	free(st->items);
	free(st->user);
	explicit_bzero(st->token, sizeof(st->token));
	memset(st, 0, sizeof(*st));
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die("out of memory");
	return p;
}

/* Adds qty units of upc to what user bought. */
static void add_bought(struct state *st, const char *user, long long upc,
		       unsigned long long qty, const char *name)
{
	struct bought *b;

	for (size_t i = 0; i < st->n; i++) {
		b = &st->items[i];
		if (b->upc == upc && !strcmp(b->user, user)) {
			b->qty += qty;
			free(b->name);
			b->name = xstrdup(name);
			return;
		}
	}
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		b = realloc(st->items, cap * sizeof(*b));
		if (!b)
			die("out of memory");
		st->items = b;
		st->cap = cap;
	}
	st->items[st->n++] = (struct bought){ xstrdup(user), xstrdup(name), upc, qty };
}

/* Loads the state file; a missing or empty file is an empty state.  Dies
 * on a damaged one rather than overwrite it. */
static void load_state(struct shop *s)
{
	char *line = NULL, user[128], name[256];
	unsigned long long qty;
	size_t cap = 0;
	ssize_t len;
	long long upc;
	int lineno = 0, pos;
	FILE *f;

	state_release(&s->st);
	f = fopen(s->state_path, "r");
	if (!f && errno == ENOENT)
		return;
	if (!f)
		die("cannot open '%s': %s", s->state_path, strerror(errno));
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (sscanf(line, "user %127s%n", user, &pos) == 1 && !line[pos]) {
			free(s->st.user);
			s->st.user = xstrdup(user);
		} else if (sscanf(line, "token %64s%n", s->st.token, &pos) == 1 && !line[pos]) {
			continue;
		} else if (sscanf(line, "bought %127s %lld %llu %255[^\n]", user, &upc, &qty,
				  name) == 4) {
			add_bought(&s->st, user, upc, qty, name);
		} else {
			die("'%s' line %d is not a shop state line (remove or fix the file)",
			    s->state_path, lineno);
		}
	}
	if (ferror(f))
		die("cannot read '%s': %s", s->state_path, strerror(errno));
	free(line);
	fclose(f);
}

/* Writes the state to FILE.tmp, syncs it and renames it over FILE. */
static int save_state(struct shop *s)
{
	char tmp[4096];
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600) != 0 || !(f = fdopen(fd, "w"))) {
		warnmsg("cannot write '%s': %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "# rwfs shop client state (tools/shop): keep it private, it holds a session token\n");
	if (s->st.user)
		fprintf(f, "user %s\n", s->st.user);
	if (s->st.token[0])
		fprintf(f, "token %s\n", s->st.token);
	for (size_t i = 0; i < s->st.n; i++)
		fprintf(f, "bought %s %lld %llu %s\n", s->st.items[i].user, s->st.items[i].upc,
			s->st.items[i].qty, s->st.items[i].name);
	if (fflush(f) != 0 || fsync(fd) != 0) {
		warnmsg("cannot write '%s': %s", tmp, strerror(errno));
		fclose(f);
		goto out_unlink;
	}
	if (fclose(f) != 0 || rename(tmp, s->state_path) != 0) {
		warnmsg("cannot write '%s': %s", s->state_path, strerror(errno));
		goto out_unlink;
	}
	return 0;

out_unlink:
	unlink(tmp);
	return -1;
}

/* Locks the state file against other shop processes (and reloads it), for
 * a change.  The lock is on the file's inode, which a rename replaces:
 * retry until the inode locked is the one at the path. */
static int begin_change(struct shop *s)
{
	struct stat a, b;

	for (;;) {
		int fd = open(s->state_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			die("cannot open '%s': %s", s->state_path, strerror(errno));
		if (flock(fd, LOCK_EX) != 0)
			die("cannot lock '%s': %s", s->state_path, strerror(errno));
		if (fstat(fd, &a) == 0 && stat(s->state_path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			load_state(s);
			return fd;
		}
		close(fd);
	}
}

/* Saves and unlocks.  Returns 0 or -1 (message printed). */
static int end_change(struct shop *s, int fd)
{
	int ret = save_state(s);

	close(fd);
	return ret;
}

/* Talking to the server --------------------------------------------------- */

/* Sends one request on a fresh open of MOUNT/shop and reads the reply to
 * EOF.  Returns DONE for an "ok" reply, with the reply in *reply (malloc'd;
 * the caller frees it), else *reply is NULL: REFUSED for an "error" reply
 * (the reason in msg), FAILED when the shop could not be reached (what went
 * wrong in msg).  The request is
 * wiped afterwards: it may hold a password. */
static int call(struct shop *s, char *request, char **reply, char *msg, size_t size)
{
	size_t len = strlen(request), cap = 0;
	char path[4096];
	int fd, werr = 0, ret = FAILED;
	FILE *f;

	*reply = NULL;
	snprintf(path, sizeof(path), "%s/shop", s->mount);
	if (!is_mount(s->mount)) {
		snprintf(msg, size, "'%s' is not an rwfs mount (no ctl file there)", s->mount);
		goto out_wipe;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, size, "cannot open '%s': %s", path, strerror(errno));
		goto out_wipe;
	}
	/* A refused request may fail the write too: the reply says why. */
	request[len] = '\n';
	if (write(fd, request, len + 1) < 0)
		werr = errno;
	f = fdopen(fd, "r");
	if (!f || werr == EMSGSIZE || werr == ENOTCONN) {
		snprintf(msg, size, "cannot send the request to '%s': %s", path,
			 strerror(f ? werr : errno));
		goto out_close;
	}
	/* The reply holds no NUL: this reads it whole, to EOF. */
	if (getdelim(reply, &cap, '\0', f) < 0 && ferror(f)) {
		snprintf(msg, size, "cannot read the reply from '%s': %s", path, strerror(errno));
	} else if (!*reply || !**reply) {
		snprintf(msg, size, "no reply from '%s'%s%s", path, werr ? ": " : "",
			 werr ? strerror(werr) : "");
	} else if (!strncmp(*reply, "ok", 2) && strchr(" \n", (*reply)[2])) {
		ret = DONE;
	} else if (!strncmp(*reply, "error ", 6)) {
		snprintf(msg, size, "%.*s", (int)strcspn(*reply + 6, "\n"), *reply + 6);
		ret = REFUSED;
	} else {
		snprintf(msg, size, "unexpected reply from '%s': %.*s", path,
			 (int)strcspn(*reply, "\n"), *reply);
	}
	if (ret != DONE) {
		free(*reply);
		*reply = NULL;
	}
out_close:
	if (f)
		fclose(f);
	else
		close(fd);
out_wipe:
	explicit_bzero(request, len + 1);
	return ret;
}

/* The text after "ok " of the reply's first line, cut at its end. */
static char *ok_text(char *reply)
{
	char *p = reply + (reply[2] == ' ' ? 3 : 2);

	p[strcspn(p, "\n")] = '\0';
	return p;
}

/* Forgets the saved token.  Dies when the state cannot be saved. */
static void forget_token(struct shop *s)
{
	int fd = begin_change(s);

	s->st.token[0] = '\0';
	if (end_change(s, fd) != 0)
		exit(1);
}

static bool logged_in(struct shop *s)
{
	load_state(s);
	return s->st.token[0] != '\0';
}

/* Operations: each returns DONE, REFUSED or FAILED with the text for the
 * user in msg. ----------------------------------------------------------- */

/* Sends "VERB TOKEN ARGS" with the saved token; as call().  When the server
 * answers "not logged in", the session is gone: the token is forgotten. */
static int session_call(struct shop *s, const char *verb, const char *args, char **reply,
			char *msg, size_t size)
{
	char request[512];
	int ret;

	*reply = NULL;
	if (!logged_in(s)) {
		snprintf(msg, size, "not logged in");
		return REFUSED;
	}
	snprintf(request, sizeof(request), "%s %s%s", verb, s->st.token, args);
	ret = call(s, request, reply, msg, size);
	if (ret == REFUSED && !strcmp(msg, "not logged in"))
		forget_token(s);
	return ret;
}

static int op_login(struct shop *s, const char *user, const char *password, char *msg,
		    size_t size)
{
	char request[2048], *reply;
	int ret, fd;

	if (!*user || strpbrk(user, " \t\r\n") || strlen(user) > 64) {
		snprintf(msg, size, "'%s' is not a user name", user);
		return REFUSED;
	}
	if (!*password || strpbrk(password, " \t\r\n") || strlen(password) > 900) {
		snprintf(msg, size, "a password is 1-900 characters without blanks");
		return REFUSED;
	}
	/* A new login replaces the session this client holds. */
	if (session_call(s, "logout", "", &reply, msg, size) != FAILED)
		free(reply);
	snprintf(request, sizeof(request), "login %s %s", user, password);
	ret = call(s, request, &reply, msg, size);
	if (ret != DONE)
		return ret;
	fd = begin_change(s);
	free(s->st.user);
	s->st.user = xstrdup(user);
	snprintf(s->st.token, sizeof(s->st.token), "%s", ok_text(reply));
	explicit_bzero(reply, strlen(reply));
	free(reply);
	if (end_change(s, fd) != 0) {
		snprintf(msg, size, "logged in as %s, but the session could not be saved", user);
		return FAILED;
	}
	snprintf(msg, size, "logged in as %s", user);
	return DONE;
}

/* On DONE, *lines points into *reply (which the caller frees) at the
 * "UPC NAME COUNT" lines, and msg holds "3 products". */
static int op_list(struct shop *s, char **reply, char **lines, char *msg, size_t size)
{
	int ret = session_call(s, "list", "", reply, msg, size);

	if (ret != DONE)
		return ret;
	*lines = *reply + strcspn(*reply, "\n");
	if (**lines)
		*(*lines)++ = '\0';
	snprintf(msg, size, "%s", ok_text(*reply));
	return DONE;
}

static int op_buy(struct shop *s, const char *upc_text, const char *qty_text, char *msg,
		  size_t size)
{
	unsigned long long upc, qty;
	char args[64], *reply, *text, *end = NULL;
	int ret, fd, pos = 0;

	if (parse_count(upc_text, 999999999999999999ULL, &upc) != 0) {
		snprintf(msg, size, "upc must be a number, not '%s'", upc_text);
		return REFUSED;
	}
	if (parse_count(qty_text, 999999999999999999ULL, &qty) != 0) {
		snprintf(msg, size, "quantity must be a whole number, not '%s'", qty_text);
		return REFUSED;
	}
	snprintf(args, sizeof(args), " %llu %llu", upc, qty);
	ret = session_call(s, "buy", args, &reply, msg, size);
	if (ret != DONE)
		return ret;
	/* "bought QTY NAME (UPC), LEFT left": NAME may hold blanks. */
	text = ok_text(reply);
	snprintf(msg, size, "%s", text);
	snprintf(args, sizeof(args), " (%llu), ", upc);
	if (sscanf(text, "bought %*u %n", &pos) == 0 && pos && (end = strstr(text + pos, args)))
		*end = '\0';
	fd = begin_change(s);
	add_bought(&s->st, s->st.user ? s->st.user : "?", (long long)upc, qty,
		   end ? text + pos : "?");
	free(reply);
	if (end_change(s, fd) != 0) {
		snprintf(msg, size, "bought, but the local inventory could not be saved");
		return FAILED;
	}
	return DONE;
}

static int op_logout(struct shop *s, char *msg, size_t size)
{
	char *reply;
	int ret = session_call(s, "logout", "", &reply, msg, size);

	if (ret != DONE)
		return ret;
	free(reply);
	forget_token(s);
	snprintf(msg, size, "logged out");
	return DONE;
}

static int op_whoami(struct shop *s, char *msg, size_t size)
{
	char *reply;
	int ret = session_call(s, "whoami", "", &reply, msg, size);

	if (ret == DONE)
		snprintf(msg, size, "%s", ok_text(reply));
	free(reply);
	return ret;
}

/* Prints what the session's (or the last session's) user bought; returns
 * how many products. */
static size_t print_local(struct shop *s, bool table)
{
	size_t shown = 0;

	load_state(s);
	for (size_t i = 0; s->st.user && i < s->st.n; i++) {
		struct bought *b = &s->st.items[i];
		if (strcmp(b->user, s->st.user) != 0)
			continue;
		if (table && shown == 0)
			printf("local inventory of %s:\n  %-8s %-24s %s\n", s->st.user, "UPC",
			       "NAME", "QTY");
		printf(table ? "  %-8lld %-24s %llu\n" : "%lld %s %llu\n", b->upc, b->name, b->qty);
		shown++;
	}
	return shown;
}

/* Reading the user ---------------------------------------------------------- */

static struct termios saved_tio;

static void restore_echo(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line of stdin without its newline, after prompt (when not NULL) on
 * out; NULL at the end of input.  Without echo when hidden and stdin is a
 * terminal.  The caller wipes and frees the line. */
static char *read_line(const char *prompt, FILE *out, bool hidden)
{
	bool noecho = hidden && isatty(STDIN_FILENO);
	struct termios tio;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (prompt) {
		fputs(prompt, out);
		fflush(out);
	}
	if (noecho && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		tio = saved_tio;
		tio.c_lflag &= ~(tcflag_t)ECHO;
		signal(SIGINT, restore_echo);
		signal(SIGTERM, restore_echo);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio);
	} else {
		noecho = false;
	}
	n = getline(&line, &cap, stdin);
	if (noecho) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		fputc('\n', out);
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	/* A script's answers are not echoed by a terminal: show them after
	 * the prompt, so the transcript reads like a session. */
	if (prompt && !isatty(STDIN_FILENO))
		fprintf(out, "%s\n", hidden ? "" : line);
	return line;
}

static void free_secret(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* The menu ------------------------------------------------------------------ */

/* Explains a refusal the user can fix from the menu. */
static void menu_refused(const char *what, const char *msg)
{
	if (!strcmp(msg, "not logged in"))
		printf("not logged in: choose 1 first\n");
	else
		printf("%s: %s\n", what, msg);
}

static void menu_table(char *lines)
{
	printf("  %-8s %-24s %s\n", "UPC", "NAME", "COUNT");
	for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
		char *name = line + strcspn(line, " "), *count = strrchr(line, ' ');
		if (!*name || count == name) {
			printf("  %s\n", line);
			continue;
		}
		*name++ = '\0';
		*count++ = '\0';
		printf("  %-8s %-24s %s\n", line, name, count);
	}
}

/* Returns false at the end of input. */
static bool menu_choice(struct shop *s, const char *choice)
{
	char msg[MSG_MAX], *a = NULL, *b = NULL, *reply, *lines;
	int ret;

	if (!strcmp(choice, "1")) {
		if (!(a = read_line("user: ", stdout, false)) ||
		    !(b = read_line("password: ", stdout, true)))
			goto out_eof;
		ret = op_login(s, a, b, msg, sizeof(msg));
		printf(ret == DONE ? "%s\n" : "login failed: %s\n", msg);
	} else if (!strcmp(choice, "2")) {
		ret = op_list(s, &reply, &lines, msg, sizeof(msg));
		if (ret == DONE) {
			printf("server inventory (%s):\n", msg);
			menu_table(lines);
		} else {
			menu_refused("cannot list", msg);
		}
		free(reply);
	} else if (!strcmp(choice, "3")) {
		if (print_local(s, true) == 0)
			printf("local inventory is empty\n");
	} else if (!strcmp(choice, "4")) {
		if (!logged_in(s)) {
			menu_refused("", "not logged in");
			return true;
		}
		if (!(a = read_line("upc: ", stdout, false)) ||
		    !(b = read_line("quantity: ", stdout, false)))
			goto out_eof;
		ret = op_buy(s, a, b, msg, sizeof(msg));
		if (ret == DONE)
			printf("%s\n", msg);
		else
			menu_refused("cannot buy", msg);
	} else if (!strcmp(choice, "5")) {
		ret = op_logout(s, msg, sizeof(msg));
		if (ret == DONE)
			printf("%s\n", msg);
		else
			menu_refused("logout", msg);
	} else if (*choice) {
		printf("unknown choice '%s': type a number from 0 to 5\n", choice);
	}
	free(a);
	free_secret(b);
	return true;

out_eof:
	free(a);
	free_secret(b);
	return false;
}

static int menu(struct shop *s)
{
	char *choice, *word;

	for (;;) {
		printf("\n1) login  2) view server inventory  3) view local inventory  "
		       "4) purchase  5) logout  0) quit\n");
		choice = read_line("choice> ", stdout, false);
		if (!choice) {
			putchar('\n');
			break;
		}
		word = choice + strspn(choice, " \t");
		word[strcspn(word, " \t")] = '\0';
		if (!strcmp(word, "0") || !strcasecmp(word, "q") || !strcasecmp(word, "quit")) {
			free(choice);
			printf("bye\n");
			break;
		}
		if (!menu_choice(s, word)) {
			free(choice);
			putchar('\n');
			break;
		}
		free(choice);
		if (fflush(stdout) != 0)
			die("cannot write the output: %s", strerror(errno));
	}
	close_stdout();
	return 0;
}

/* Subcommands --------------------------------------------------------------- */

static int subcommand(struct shop *s, int argc, char **argv)
{
	static const struct {
		const char *name;
		int args;
	} cmds[] = {
		{ "login", 1 }, { "list", 0 }, { "buy", 2 }, { "local", 0 }, { "logout", 0 },
		{ "whoami", 0 },
	};
	char msg[MSG_MAX] = "", *reply = NULL, *lines, *password;
	int ret = DONE;
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[0], cmds[i].name))
			break;
	}
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		bad_usage("unknown subcommand '%s'", argv[0]);
	if (argc - 1 != cmds[i].args)
		bad_usage("'%s' takes %d argument%s", argv[0], cmds[i].args,
			  cmds[i].args == 1 ? "" : "s");

	if (!strcmp(argv[0], "login")) {
		password = read_line(isatty(STDIN_FILENO) ? "password: " : NULL, stderr, true);
		if (!password)
			die("no password on standard input");
		ret = op_login(s, argv[1], password, msg, sizeof(msg));
		free_secret(password);
	} else if (!strcmp(argv[0], "list")) {
		ret = op_list(s, &reply, &lines, msg, sizeof(msg));
		if (ret == DONE) {
			fputs(lines, stdout);
			msg[0] = '\0';
		}
		free(reply);
	} else if (!strcmp(argv[0], "buy")) {
		if (parse_count(argv[1], ~0ULL, &(unsigned long long){ 0 }) != 0 ||
		    parse_count(argv[2], ~0ULL, &(unsigned long long){ 0 }) != 0)
			bad_usage("buy takes a UPC and a quantity, whole numbers");
		ret = op_buy(s, argv[1], argv[2], msg, sizeof(msg));
	} else if (!strcmp(argv[0], "local")) {
		print_local(s, false);
	} else if (!strcmp(argv[0], "logout")) {
		ret = op_logout(s, msg, sizeof(msg));
	} else {
		ret = op_whoami(s, msg, sizeof(msg));
	}

	if (ret != DONE && !strcmp(msg, "not logged in"))
		warnmsg("not logged in: run 'shop login USER' first");
	else if (ret != DONE)
		warnmsg("%s", msg);
	else if (msg[0])
		puts(msg);
	close_stdout();
	return ret == DONE ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "state", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct shop s = { 0 };
	const char *mount_opt = NULL, *state = NULL, *home = getenv("HOME");
	int opt, status;

	prog = "shop";
	while ((opt = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm': mount_opt = optarg; break;
		case 's': state = optarg; break;
		case 'h': usage(stdout); close_stdout(); return 0;
		case 'V': print_version(); return 0;
		default: bad_option(opt, argv);
		}
	}
	s.mount = find_mount(mount_opt);
	if (state)
		s.state_path = xstrdup(state);
	else if (home && *home && asprintf(&s.state_path, "%s/.rwfs-shop", home) < 0)
		die("out of memory");
	else if (!s.state_path)
		s.state_path = xstrdup("./.rwfs-shop");
	load_state(&s);

	if (optind < argc)
		status = subcommand(&s, argc - optind, argv + optind);
	else
		status = menu(&s);
	state_release(&s.st);
	free(s.state_path);
	return status;
}
