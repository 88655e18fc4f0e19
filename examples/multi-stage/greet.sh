echo "Hello from the @NAME@ example: built in one stage, shipped from scratch."
