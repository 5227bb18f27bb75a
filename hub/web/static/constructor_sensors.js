// Deskpulse floor constructor: the desk panel's sensor editor. A desk's sensors are the
// edge.toml [[desks.sensors]] tables its agent reads (docs/sensors.md): a type and the pin,
// I2C bus/address, file path, or a wireless device's address / friendly name / topic /
// serial port the type needs. Every field has its own label; rows are
// plain form controls, so Tab, arrow keys in selects and Enter (saves) all work. Keys the
// editor does not show (hold_seconds, debounce_seconds, pull_up) are kept while a sensor
// keeps its type. The hub checks everything again with the edge's own rules.
"use strict";

window.DeskpulseSensorEditor = function (form, save) {
  const TYPES = [
    ["pir", "PIR motion sensor (GPIO)"], ["pressure", "Seat pressure mat (GPIO)"],
    ["contact", "Contact switch (GPIO)"], ["thermopile", "Thermopile AMG8833 (I2C)"],
    ["file", "File (present/absent)"],
    ["bthome", "BTHome BLE sensor (Shelly BLU)"], ["zigbee", "zigbee2mqtt device"],
    ["mqtt", "MQTT device (ESPHome, Tasmota)"], ["radar", "mmWave radar LD2410 (UART)"],
  ];
  const GPIO = new Set(["pir", "contact", "pressure"]);
  // wireless types: the one text key that names the device (docs/sensors.md); their
  // other keys (measure, field, max_cm ...) are kept as recorded
  const WIRELESS = {
    bthome: ["address", "Bluetooth address"], zigbee: ["device", "zigbee2mqtt friendly name"],
    mqtt: ["topic", "MQTT topic"], radar: ["port", "Serial port"],
  };
  const MAX_SENSORS = 4;  // edge.config.MAX_SENSORS_PER_DESK
  const list = form.querySelector("#sensor-rows");
  const empty = form.querySelector("#sensor-none");
  const add = form.querySelector("#sensor-add");
  let desk = null;
  let rows = [];  // [{spec, node}]

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function field(row, n, key, labelText, control) {
    control.id = `sensor-${n}-${key}`;
    control.name = key;
    const label = make("label", "", labelText);
    label.htmlFor = control.id;
    row.append(label, control);
    return control;
  }

  function numberInput(value, min, max) {
    const input = make("input");
    input.type = "number";
    input.min = String(min);
    input.max = String(max);
    input.step = "1";
    input.required = true;
    if (value !== undefined && value !== null) input.value = String(value);
    return input;
  }

  function drawRow(spec, index) {
    const n = index + 1;
    const row = make("fieldset", "sensor-row");
    row.dataset.sensor = String(index);
    row.append(make("legend", "", `Sensor ${n}`));
    const type = field(row, n, "type", `Type of sensor ${n}`, make("select"));
    type.replaceChildren(...TYPES.map(([id, name]) => {
      const option = make("option", "", name);
      option.value = id;
      option.selected = id === spec.type;
      return option;
    }));
    if (GPIO.has(spec.type)) {
      field(row, n, "pin", `GPIO pin (BCM 4 to 27) of sensor ${n}`, numberInput(spec.pin, 4, 27));
    } else if (WIRELESS[spec.type]) {
      const [key, name] = WIRELESS[spec.type];
      const input = make("input");
      input.required = true;
      input.maxLength = 200;
      input.value = spec[key] || "";
      field(row, n, key, `${name} of sensor ${n}`, input);
    } else if (spec.type === "thermopile") {
      const address = field(row, n, "address", `I2C address of sensor ${n}`, make("select"));
      address.replaceChildren(...[[0x69, "0x69 (AD_SELECT to 3.3 V)"],
        [0x68, "0x68 (AD_SELECT to GND)"]].map(([value, name]) => {
        const option = make("option", "", name);
        option.value = String(value);
        option.selected = value === (spec.address === undefined ? 0x69 : spec.address);
        return option;
      }));
      field(row, n, "bus", `I2C bus of sensor ${n}`,
        numberInput(spec.bus === undefined || spec.bus === null ? 1 : spec.bus, 0, 31));
    } else {
      const path = make("input");
      path.required = true;
      path.maxLength = 1024;
      path.value = spec.path || "";
      field(row, n, "path", `File path of sensor ${n}`, path);
    }
    const remove = make("button", "danger", "Remove");
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove sensor ${n}`);
    remove.addEventListener("click", () => {
      read();
      rows.splice(index, 1);
      draw(Math.min(index, rows.length - 1));
      if (rows.length === 0) add.focus();
    });
    row.append(remove);
    type.addEventListener("change", () => {
      read();
      rows[index].spec = { type: type.value };  // other keys belong to the old type
      draw(index, "type");
    });
    return row;
  }

  // The specs as the form now shows them (numbers as numbers, unknown keys kept).
  function read() {
    for (const row of rows) {
      if (!row.node) continue;
      const get = (key) => row.node.querySelector(`[name="${key}"]`);
      const spec = { ...row.spec, type: get("type").value };
      const wireless = WIRELESS[spec.type];
      if (wireless) {  // the type select may have just changed: no such input yet
        const input = get(wireless[0]);
        if (input) spec[wireless[0]] = input.value.trim();
        row.spec = spec;
        continue;
      }
      for (const key of ["pin", "bus", "address"]) {
        const input = get(key);
        if (input) spec[key] = input.value === "" ? input.value : Number(input.value);
      }
      if (get("path")) spec.path = get("path").value.trim();
      row.spec = spec;
    }
    return rows.map((row) => row.spec);
  }

  function draw(focusIndex, focusKey) {
    list.replaceChildren(...rows.map((row, index) => {
      const li = make("li");
      row.node = drawRow(row.spec, index);
      li.append(row.node);
      return li;
    }));
    empty.hidden = rows.length > 0;
    add.disabled = rows.length >= MAX_SENSORS;
    if (focusIndex !== undefined && focusIndex >= 0 && rows[focusIndex]) {
      const target = rows[focusIndex].node.querySelector(
        focusKey ? `[name="${focusKey}"]` : "select, input");
      if (target) target.focus();
    }
  }

  add.addEventListener("click", () => {
    read();
    rows.push({ spec: { type: "pir" }, node: null });
    draw(rows.length - 1);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (desk) save(desk.id, read());
  });

  return {
    show(selected) {
      desk = selected;
      form.hidden = !desk;
      if (!desk) return;
      rows = (desk.sensors || []).map((spec) => ({
        spec: Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== null)),
        node: null,
      }));
      draw();
    },
  };
};
