# A tar archive to download (ADD must not unpack it from a URL).
mkdir tarsrc && echo inside > tarsrc/inside.txt && tar -C tarsrc -cf archive.tar inside.txt
rm -r tarsrc
