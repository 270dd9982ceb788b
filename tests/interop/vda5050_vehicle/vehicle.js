// Starts coatyio's vda-5050-lib virtual vehicle (AgvController + VirtualAgvAdapter), a VDA 5050
// implementation wardlink did not write, so the edge's master control is tested against it.
//
// This file only configures and starts the third-party vehicle; all of its VDA 5050 behaviour (orders,
// node actions, instant actions, state, connection, visualization) is the library's. The one thing it
// adds is the factsheet: the library publishes an empty one (headers only, which breaks the schema), so
// this script fills it in, listing the actions the adapter itself defines.
//
// Usage: node vehicle.js '<json config>'; see `config` below for the keys. Prints one line "ready" on
// stdout once connected and subscribed; on SIGTERM/SIGINT it stops (connection OFFLINE) and exits 0.
"use strict";

const { AgvController, VirtualAgvAdapter } = require("vda-5050-lib");

const config = JSON.parse(process.argv[2] || "{}");
for (const key of ["brokerUrl", "manufacturer", "serialNumber", "vdaVersion", "initialPosition"]) {
    if (config[key] === undefined) {
        console.error(`vehicle.js: missing config key ${key}`);
        process.exit(2);
    }
}

// Types of the parameters the adapter's actions take; the adapter states only a check per key.
const PARAMETER_TYPES = {
    duration: "NUMBER",
    stationType: "STRING",
    loadType: "STRING",
    x: "NUMBER",
    y: "NUMBER",
    theta: "NUMBER",
    mapId: "STRING",
    lastNodeId: "STRING",
    lastNodeSequenceId: "INTEGER",
    orders: "ARRAY",
};

// Instant actions the library's AgvController handles itself, beside the adapter's own.
const CONTROLLER_ACTIONS = ["cancelOrder", "stateRequest", "factsheetRequest"];

function advertisedActions(adapter) {
    const scopesOf = (def) => [].concat(def.actionScopes).map((s) => s.toUpperCase());
    const actions = adapter.actionDefinitions.map((def) => {
        const checks = def.actionParameterConstraints || {};
        const action = { actionType: def.actionType, actionScopes: scopesOf(def) };
        const parameters = Object.keys(checks).map((key) => ({
            key,
            valueDataType: PARAMETER_TYPES[key] || "STRING",
            // A check that accepts a missing value marks the parameter optional.
            isOptional: Boolean(checks[key](undefined, scopesOf(def)[0].toLowerCase(), {})),
        }));
        if (parameters.length > 0) {
            action.actionParameters = parameters;
        }
        return action;
    });
    return actions.concat(CONTROLLER_ACTIONS.map((actionType) => ({ actionType, actionScopes: ["INSTANT"] })));
}

function factsheet(adapter) {
    const speed = adapter.options.vehicleSpeed;
    return {
        typeSpecification: {
            seriesName: "VirtualAgvAdapter",
            seriesDescription: "coatyio vda-5050-lib 1.4.0 virtual AGV",
            agvKinematic: "OMNI",
            agvClass: "CARRIER",
            maxLoadMass: 20,
            localizationTypes: ["NATURAL"],
            navigationTypes: ["AUTONOMOUS"],
        },
        physicalParameters: {
            speedMin: 0,
            speedMax: speed,
            accelerationMax: 10,
            decelerationMax: 10,
            heightMin: 1,
            heightMax: 1,
            width: 1,
            length: 1,
        },
        protocolLimits: {
            maxStringLens: {},
            maxArrayLens: {},
            timing: { minOrderInterval: 0.1, minStateInterval: 0.1 },
        },
        protocolFeatures: { optionalParameters: [], agvActions: advertisedActions(adapter) },
        agvGeometry: {},
        loadSpecification: { loadPositions: ["onboard"], loadSets: [{ setName: "EPAL", loadType: "EPAL" }] },
    };
}

async function main() {
    const controller = new AgvController(
        { manufacturer: config.manufacturer, serialNumber: config.serialNumber },
        {
            interfaceName: config.interfaceName || "uagv",
            transport: { brokerUrl: config.brokerUrl, heartbeat: 5 },
            vdaVersion: config.vdaVersion,
        },
        {
            agvAdapterType: VirtualAgvAdapter,
            publishStateInterval: config.publishStateIntervalMs || 5000,
            publishVisualizationInterval: config.publishVisualizationIntervalMs || 1000,
        },
        {
            initialPosition: config.initialPosition,
            vehicleSpeed: config.vehicleSpeed || 2,
            timeLapse: config.timeLapse || 1,
        },
    );
    await controller.start();
    // The adapter sets an empty factsheet while attaching (inside `start`); replace it.
    controller.updateFactsheet(factsheet(controller._agvAdapter));

    let stopping = false;
    const stop = async () => {
        if (stopping) {
            return;
        }
        stopping = true;
        try {
            await controller.stop();
        } finally {
            process.exit(0);
        }
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    console.log("ready");
}

main().catch((error) => {
    console.error(`vehicle.js: ${error && error.stack ? error.stack : error}`);
    process.exit(1);
});
