#!/usr/bin/env node
'use strict';
// The connector's entry point: `spec | check | discover | read`, as the Airbyte platform calls it.
require('../lib/src/main.js').main(process.argv.slice(2));
