#!/bin/sh
echo "export corpus job"
