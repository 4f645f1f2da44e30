"""The login throttle: counted in Redis *before* the password is checked (INCR first, then
compare), so parallel requests cannot all slip in under the limit between a read and a write.

Three counters per attempt, each over a fixed window that starts at its first attempt (later
attempts do not extend it, so an owner locked out by someone else's guessing gets in again
when the window ends):
  account + address   LOGIN_MAX_ATTEMPTS              one guesser at one account
  account             LOGIN_MAX_ATTEMPTS_PER_ACCOUNT  many addresses at one account
  address             LOGIN_MAX_ATTEMPTS_PER_ADDRESS  one address at many accounts (spraying);
                                                      higher, as an office shares an address
A successful sign-in takes its own attempt back and clears the account + address counter."""
from flask import current_app

from app.extensions import get_redis

PREFIX = "lastmile:login"


def _limits(scope, account, address):
    config = current_app.config
    return [(f"{PREFIX}:{scope}:acct-addr:{account}:{address}", config["LOGIN_MAX_ATTEMPTS"]),
            (f"{PREFIX}:{scope}:acct:{account}", config["LOGIN_MAX_ATTEMPTS_PER_ACCOUNT"]),
            (f"{PREFIX}:{scope}:addr:{address}", config["LOGIN_MAX_ATTEMPTS_PER_ADDRESS"])]


def attempt(scope, account, address):
    """Count one attempt. Returns 0 when it may go ahead, else the seconds to wait."""
    window = current_app.config["LOGIN_LOCKOUT_SECONDS"]
    pipe = get_redis().pipeline(transaction=True)
    limits = _limits(scope, account, address)
    for key, _ in limits:
        # SET NX starts the window once; INCR keeps its expiry (EXPIRE NX needs Redis 7).
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
    replies = pipe.execute()
    wait = 0
    for index, (_, limit) in enumerate(limits):
        count, ttl = replies[index * 3 + 1], replies[index * 3 + 2]
        if count > limit:
            wait = max(wait, ttl if ttl and ttl > 0 else window)
    return wait


# DECR of an expired key would make a counter without expiry: only touch live ones.
_TAKE_BACK = """redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECR', KEYS[i]) end
end
return 1"""


def succeeded(scope, account, address):
    """The right password: this attempt was no guess."""
    keys = [key for key, _ in _limits(scope, account, address)]
    get_redis().eval(_TAKE_BACK, len(keys), *keys)
