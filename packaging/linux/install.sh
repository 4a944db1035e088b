#!/usr/bin/env bash
# Install the CNN Studio bundle (built by packaging/build.py) for the current user, or remove it.
#
#   ./install.sh                  install the bundle this script sits in
#   ./install.sh --bundle DIR     install the bundle in DIR (e.g. from packaging/linux/)
#   ./install.sh --uninstall      remove what install.sh installed
#
# Where things go (PREFIX defaults to ~/.local; set PREFIX or HOME, or pass --prefix, to
# install elsewhere, e.g. into a test folder):
#   PREFIX/opt/cnnstudio/                           the bundle (a copy)
#   PREFIX/bin/cnnstudio                            launcher: a symlink to the bundle's program
#   DATA/applications/cnnstudio.desktop             menu entry (Exec is the launcher's full path)
#   DATA/icons/hicolor/<N>x<N>/apps/cnnstudio.png   icons, and scalable/apps/cnnstudio.svg
#   DATA/mime/packages/cnnstudio-mime.xml           the .cnnproj file type (xdg-mime install)
#   CONFIG/mimeapps.list                            CNN Studio opens .cnnproj files (xdg-mime default)
# DATA is PREFIX/share (with the default PREFIX: $XDG_DATA_HOME when set); CONFIG is
# $XDG_CONFIG_HOME or ~/.config.
set -euo pipefail

NAME=cnnstudio
MIME_TYPE=application/x-cnnstudio-project
MIME_XML=cnnstudio-mime.xml
DESKTOP=cnnstudio.desktop
ICON_SIZES="16 32 48 64 128 256 512"

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    echo "options: --bundle DIR, --prefix DIR, --uninstall, --help"
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle=""
action=install
prefix_given=${PREFIX:+yes}
while [ $# -gt 0 ]; do
    case "$1" in
        --uninstall) action=uninstall ;;
        --bundle) bundle=${2:?--bundle needs a folder}; shift ;;
        --bundle=*) bundle=${1#--bundle=} ;;
        --prefix) PREFIX=${2:?--prefix needs a folder}; prefix_given=yes; shift ;;
        --prefix=*) PREFIX=${1#--prefix=}; prefix_given=yes ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

: "${HOME:?HOME is not set}"
PREFIX=${PREFIX:-$HOME/.local}
if [ -n "$prefix_given" ]; then
    DATA=$PREFIX/share
else
    DATA=${XDG_DATA_HOME:-$PREFIX/share}
fi
CONFIG=${XDG_CONFIG_HOME:-$HOME/.config}
DEST=$PREFIX/opt/$NAME
BIN=$PREFIX/bin
LAUNCHER=$BIN/$NAME

have() { command -v "$1" >/dev/null 2>&1; }
say() { echo "install.sh: $*"; }

refresh_caches() {
    if have update-desktop-database; then
        update-desktop-database -q "$DATA/applications" 2>/dev/null || true
    fi
    if have update-mime-database && [ -d "$DATA/mime/packages" ]; then
        update-mime-database "$DATA/mime" >/dev/null 2>&1 || true
    fi
    # Desktops notice new icons by the theme folder's time; a cache, where there is one, is
    # rebuilt (a stale cache would hide them).
    if [ -d "$DATA/icons/hicolor" ]; then
        touch "$DATA/icons/hicolor"
        if [ -f "$DATA/icons/hicolor/icon-theme.cache" ] && have gtk-update-icon-cache; then
            gtk-update-icon-cache -q -t -f "$DATA/icons/hicolor" || true
        fi
    fi
}

# Write "application/x-cnnstudio-project=cnnstudio.desktop;" into CONFIG/mimeapps.list, as
# `xdg-mime default` does on a desktop it does not know.
set_default_app() {
    local list=$CONFIG/mimeapps.list line="$MIME_TYPE=$DESKTOP;"
    mkdir -p "$CONFIG"
    if [ -f "$list" ] && grep -q '^\[Default Applications\]' "$list"; then
        sed -i "\\|^$MIME_TYPE=|d" "$list"
        sed -i "s|^\\[Default Applications\\]\$|&\\n$line|" "$list"
    else
        printf '[Default Applications]\n%s\n' "$line" >>"$list"
    fi
}

install_bundle() {
    if [ -z "$bundle" ]; then
        bundle=$here
    fi
    bundle=$(cd "$bundle" && pwd)
    if [ ! -x "$bundle/$NAME" ] || [ ! -d "$bundle/share" ]; then
        echo "install.sh: $bundle is not a CNN Studio bundle (no $NAME program and share/" \
             "folder): build one with \`python packaging/build.py\` and pass --bundle" \
             "OUT/cnnstudio" >&2
        exit 1
    fi

    # 1. the bundle itself
    if [ "$bundle" != "$DEST" ]; then
        say "copying $bundle to $DEST"
        mkdir -p "$(dirname "$DEST")"
        rm -rf "$DEST.new"
        cp -a "$bundle/." "$DEST.new"
        if [ -e "$DEST" ]; then
            remove_bundle_folder
        fi
        mv "$DEST.new" "$DEST"
    fi

    # 2. the launcher on PATH
    mkdir -p "$BIN"
    ln -sfn "$DEST/$NAME" "$LAUNCHER"

    # 3. icons
    local size src
    for size in $ICON_SIZES; do
        src=$DEST/share/icons/hicolor/${size}x${size}/apps/$NAME.png
        if [ -f "$src" ]; then
            install -D -m 644 "$src" "$DATA/icons/hicolor/${size}x${size}/apps/$NAME.png"
        fi
    done
    src=$DEST/share/icons/hicolor/scalable/apps/$NAME.svg
    if [ -f "$src" ]; then
        install -D -m 644 "$src" "$DATA/icons/hicolor/scalable/apps/$NAME.svg"
    fi

    # 4. the menu entry, with the launcher's full path (~/.local/bin is not on every
    #    desktop session's PATH)
    local exec_path=$LAUNCHER
    case "$exec_path" in *" "*) exec_path="\"$exec_path\"" ;; esac
    mkdir -p "$DATA/applications"
    local key
    while IFS= read -r line || [ -n "$line" ]; do
        key=${line%%=*}
        case "$key" in
            Exec) echo "Exec=$exec_path %f" ;;
            TryExec) echo "TryExec=$LAUNCHER" ;;
            *) echo "$line" ;;
        esac
    done <"$DEST/share/applications/$DESKTOP" >"$DATA/applications/$DESKTOP"
    chmod 644 "$DATA/applications/$DESKTOP"

    # 5. the file type, and CNN Studio as the program that opens it
    local xml=$DEST/share/mime/packages/$MIME_XML
    if have xdg-mime; then
        XDG_DATA_HOME=$DATA xdg-mime install --mode user --novendor "$xml"
        XDG_DATA_HOME=$DATA XDG_CONFIG_HOME=$CONFIG \
            xdg-mime default "$DESKTOP" "$MIME_TYPE" || set_default_app
    else
        install -D -m 644 "$xml" "$DATA/mime/packages/$MIME_XML"
        set_default_app
    fi
    refresh_caches

    say "installed CNN Studio: $LAUNCHER (menu: $DATA/applications/$DESKTOP)"
    case ":$PATH:" in
        *":$BIN:"*) ;;
        *) say "note: $BIN is not on PATH; add it to run \`$NAME\` from a terminal" ;;
    esac
}

# Remove DEST, only if it holds a CNN Studio bundle (never an unrelated folder).
remove_bundle_folder() {
    if [ -e "$DEST/$NAME" ] || [ -z "$(ls -A "$DEST" 2>/dev/null)" ]; then
        rm -rf "$DEST"
    else
        echo "install.sh: $DEST exists and is not a CNN Studio bundle: not touching it" >&2
        exit 1
    fi
}

uninstall_bundle() {
    if [ -e "$DEST" ] && [ ! -e "$DEST/$NAME" ] && [ -n "$(ls -A "$DEST" 2>/dev/null)" ]; then
        echo "install.sh: $DEST exists and is not a CNN Studio bundle: not touching it" >&2
        exit 1
    fi
    if [ -L "$LAUNCHER" ] && [ "$(readlink "$LAUNCHER")" = "$DEST/$NAME" ]; then
        rm -f "$LAUNCHER"
    fi
    local size
    for size in $ICON_SIZES; do
        rm -f "$DATA/icons/hicolor/${size}x${size}/apps/$NAME.png"
    done
    rm -f "$DATA/icons/hicolor/scalable/apps/$NAME.svg"
    rm -f "$DATA/applications/$DESKTOP"
    if [ -f "$DATA/mime/packages/$MIME_XML" ]; then
        if have xdg-mime; then
            XDG_DATA_HOME=$DATA xdg-mime uninstall --mode user --novendor \
                "$DATA/mime/packages/$MIME_XML" || rm -f "$DATA/mime/packages/$MIME_XML"
        fi
        rm -f "$DATA/mime/packages/$MIME_XML"
    fi
    if [ -f "$CONFIG/mimeapps.list" ]; then
        sed -i "\\|^$MIME_TYPE=$DESKTOP;\\{0,1\\}\$|d" "$CONFIG/mimeapps.list"
    fi
    if [ -e "$DEST" ]; then
        remove_bundle_folder
    fi
    refresh_caches
    say "removed CNN Studio from $PREFIX"
}

if [ "$action" = install ]; then
    install_bundle
else
    uninstall_bundle
fi
