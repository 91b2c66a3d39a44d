"""Argument helpers shared by the ``fastinit`` commands: integer lists and ranges, comma lists, the output
options, and the check that an output path can be written before any work."""
import os

MAX_LIST = 100_000   # the most values a range on the command line may list


def parse_int_list(text, name="value"):
    """'1:100' (inclusive), '2:100:4', '64,256,1024' or a mix ('2,4,8:32:8') -> list of ints; ValueError naming
    the argument otherwise."""
    values = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if ":" in part:
                bits = [int(b) for b in part.split(":")]
                if len(bits) not in (2, 3):
                    raise ValueError
                start, stop = bits[0], bits[1]
                step = bits[2] if len(bits) == 3 else 1
                if step < 1 or stop < start:
                    raise ValueError
                count = (stop - start) // step + 1
                if len(values) + count > MAX_LIST:
                    raise OverflowError
                values.extend(range(start, stop + 1, step))
            else:
                values.append(int(part))
        except ValueError:
            raise ValueError(f"--{name}: cannot read {part!r}: expected integers, 'start:stop' (inclusive, "
                             f"start <= stop) or 'start:stop:step' (step >= 1)") from None
        except OverflowError:   # (before the list is built: '1:200000000' would take seconds and gigabytes)
            raise ValueError(f"--{name}: {text!r} lists more than {MAX_LIST} values") from None
    if not values:
        raise ValueError(f"--{name}: no values in {text!r}")
    return values


def comma_list(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def add_outputs(p, json_help, plot_help):
    """--json, --plot and --threads, which bench and simulate share."""
    p.add_argument("--json", metavar="PATH", help=json_help)
    p.add_argument("--plot", metavar="PATH", help=plot_help)
    p.add_argument("--threads", type=int, help="threads for fastinit (default: all CPUs this process may use)")


def check_writable(usage, option, path):
    """usage error when a file cannot be written at path (its folder missing or read-only), before any work."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        usage.error(f"{option}: {path!r} is a directory")
    if not os.path.isdir(folder):
        usage.error(f"{option}: cannot write {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        usage.error(f"{option}: cannot write {path!r}: the folder {folder!r} is not writable")
