# kaspr install helper: the command table (included last).

COMMANDS = {
    "start": cmd_start, "prepare": cmd_prepare, "filter": cmd_filter, "classify": cmd_classify,
    "sleep": cmd_sleep, "heartbeat": cmd_heartbeat, "publish": cmd_publish, "gc": cmd_gc,
    "finish": cmd_finish, "rmtree": rmtree, "published": cmd_published, "writable": cmd_writable,
    "error-type": cmd_error_type, "auth-url": auth_url,
    "auth-extra": auth_extra,
}
COMMANDS.update(GCS_COMMANDS)

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](*sys.argv[2:]) or 0)
