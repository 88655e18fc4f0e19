# Runs in a copy of context/: file names that are not ASCII, made here so the repository's
# own names stay ASCII. Tar names are bytes: Latin-1 accents, CJK, an emoji, and a name that
# is not valid UTF-8 at all; a symlink and a hardlink whose targets are such names.
set -e
echo cafe > "café.txt"
mkdir "日本語" && echo nihongo > "日本語/ファイル.txt"
echo smile > "😀.txt"
echo raw > "$(printf 'raw-\377\376-name')"
ln -s "café.txt" "lien-vers-café"
ln "😀.txt" "😀-hardlink"
