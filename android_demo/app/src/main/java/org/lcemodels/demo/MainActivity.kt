package org.lcemodels.demo

import android.content.Intent
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.net.Uri
import android.os.Bundle
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ProgressBar
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.core.content.FileProvider
import androidx.exifinterface.media.ExifInterface
import org.lcemodels.tiles.Bicubic
import org.lcemodels.tiles.Upscaler
import java.io.File
import java.io.InputStream
import java.util.concurrent.CancellationException
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.Future
import kotlin.math.sqrt

/**
 * Pick a photo (or the bundled sample), choose a model and a thread count, upscale it off the
 * UI thread tile by tile, and compare the result with bicubic; save or share it.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var compare: CompareView
    private lateinit var progress: ProgressBar
    private lateinit var status: TextView
    private lateinit var modelChoice: Spinner
    private lateinit var threadChoice: Spinner
    private lateinit var runButton: Button
    private lateinit var saveButton: Button
    private lateinit var shareButton: Button
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private var job: Future<*>? = null
    private var photo: Bitmap? = null
    private var result: Bitmap? = null
    private val threads = listOf(1, 2, 4, 8)

    private val pickPhoto = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        uri?.let { load("photo") { contentResolver.openInputStream(it)!! } }
    }
    private val saveAs = registerForActivityResult(ActivityResultContracts.CreateDocument("image/png")) { uri ->
        uri?.let { save(it) }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        compare = findViewById(R.id.compare)
        progress = findViewById(R.id.progress)
        status = findViewById(R.id.status)
        modelChoice = findViewById(R.id.model)
        threadChoice = findViewById(R.id.threads)
        runButton = findViewById(R.id.run)
        saveButton = findViewById(R.id.save)
        shareButton = findViewById(R.id.share)

        val models = assets.list("").orEmpty().filter { it.endsWith(".tflite") }.sorted()
        modelChoice.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, models)
        threadChoice.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, threads)
        threadChoice.setSelection(threads.indexOf(4))
        if (models.isEmpty()) {
            status.setText(R.string.no_models)
            runButton.isEnabled = false
        }
        findViewById<Button>(R.id.pick).setOnClickListener {
            pickPhoto.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
        }
        findViewById<Button>(R.id.sample).setOnClickListener { load("sample") { assets.open(SAMPLE) } }
        runButton.setOnClickListener { if (job?.isDone == false) job?.cancel(true) else upscale() }
        saveButton.setOnClickListener { saveAs.launch("upscaled.png") }
        shareButton.setOnClickListener { share() }
        load("sample") { assets.open(SAMPLE) }
    }

    override fun onDestroy() {
        worker.shutdownNow()
        super.onDestroy()
    }

    /** Decode off the UI thread: EXIF orientation applied, at most MAX_PIXELS pixels. */
    private fun load(what: String, open: () -> InputStream) {
        if (job?.isDone == false) return
        job = worker.submit(Runnable {
            try {
                val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
                open().use { BitmapFactory.decodeStream(it, null, bounds) }
                var sample = 1
                while (bounds.outWidth.toLong() * bounds.outHeight / (sample * sample) > 4 * MAX_PIXELS) sample *= 2
                val options = BitmapFactory.Options().apply {
                    inSampleSize = sample
                    inPreferredConfig = Bitmap.Config.ARGB_8888
                }
                var bitmap = open().use { BitmapFactory.decodeStream(it, null, options) }
                    ?: throw IllegalArgumentException("not an image this phone can decode")
                val degrees = open().use { ExifInterface(it).rotationDegrees }
                if (degrees != 0) {
                    val m = Matrix().apply { postRotate(degrees.toFloat()) }
                    bitmap = Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, true)
                }
                val pixels = bitmap.width.toLong() * bitmap.height
                var note = ""
                if (pixels > MAX_PIXELS) { // the x4 output of a bigger one would not fit in memory
                    val f = sqrt(MAX_PIXELS.toDouble() / pixels)
                    note = " (reduced from ${bitmap.width}x${bitmap.height} to fit the phone's memory)"
                    bitmap = Bitmap.createScaledBitmap(bitmap, (bitmap.width * f).toInt(), (bitmap.height * f).toInt(), true)
                }
                val loaded = bitmap
                runOnUiThread {
                    photo = loaded
                    result = null
                    saveButton.isEnabled = false
                    shareButton.isEnabled = false
                    status.text = "$what: ${loaded.width}x${loaded.height}$note"
                    compare.show(loaded, loaded)
                }
            } catch (e: Exception) {
                runOnUiThread { status.text = "could not open the $what: ${e.message}" }
            }
        })
    }

    private fun upscale() {
        val input = photo ?: return
        val name = modelChoice.selectedItem as? String ?: return
        val threadCount = threadChoice.selectedItem as Int
        runButton.setText(R.string.cancel)
        progress.progress = 0
        job = worker.submit(Runnable {
            try {
                SrModel(this, name, threadCount).use { model -> restore(model, input, threadCount) }
            } catch (e: CancellationException) {
                runOnUiThread { status.text = "cancelled" }
            } catch (e: Exception) {
                runOnUiThread { status.text = "failed: ${e.message}" }
            } catch (e: OutOfMemoryError) {
                runOnUiThread { status.text = "out of memory: pick a smaller photo" }
            } finally {
                runOnUiThread { runButton.setText(R.string.run) }
            }
        })
    }

    /** On the worker thread: tiles, timing, the bicubic baseline, then the UI. */
    private fun restore(model: SrModel, input: Bitmap, threadCount: Int) {
        val w = input.width
        val h = input.height
        val s = model.scale
        val pixels = IntArray(w * h)
        input.getPixels(pixels, 0, w, 0, 0, w, h)
        val upscaler = Upscaler(model, model.tileHeight, model.tileWidth, model.overlap, s)
        val total = upscaler.tiles(h, w)
        val tileMs = DoubleArray(total)
        runOnUiThread { progress.max = total }
        val start = System.nanoTime()
        val out = upscaler.upscale(pixels, w, h) { done, all, nanos ->
            tileMs[done - 1] = nanos / 1e6
            runOnUiThread {
                progress.progress = done
                status.text = "${model.assetName}: tile $done / $all"
            }
        }
        val totalMs = (System.nanoTime() - start) / 1e6
        val restored = Bitmap.createBitmap(out, w * s, h * s, Bitmap.Config.ARGB_8888)
        val bicubic = Bitmap.createBitmap(Bicubic.resize(pixels, w, h, w * s, h * s), w * s, h * s, Bitmap.Config.ARGB_8888)
        val report = String.format(
            "%s (%d KiB), %d threads, %dx%d -> %dx%d\n%d tiles of %dx%d: %.0f ms per tile (min %.0f, max %.0f), total %.2f s",
            model.assetName, model.sizeBytes / 1024, threadCount, w, h, w * s, h * s, total, model.tileHeight,
            model.tileWidth, tileMs.average(), tileMs.minOrNull() ?: 0.0, tileMs.maxOrNull() ?: 0.0, totalMs / 1000,
        )
        runOnUiThread {
            result = restored
            compare.show(bicubic, restored)
            status.text = report
            saveButton.isEnabled = true
            shareButton.isEnabled = true
        }
    }

    private fun save(uri: Uri) {
        val image = result ?: return
        worker.submit(Runnable {
            val ok = try {
                contentResolver.openOutputStream(uri)!!.use { image.compress(Bitmap.CompressFormat.PNG, 100, it) }
            } catch (e: Exception) {
                false
            }
            runOnUiThread { status.text = if (ok) "saved" else "could not save the image" }
        })
    }

    private fun share() {
        val image = result ?: return
        worker.submit(Runnable {
            try {
                val file = File(cacheDir, "shared/upscaled.png").apply { parentFile?.mkdirs() }
                file.outputStream().use { image.compress(Bitmap.CompressFormat.PNG, 100, it) }
                val uri = FileProvider.getUriForFile(this, "$packageName.files", file)
                val send = Intent(Intent.ACTION_SEND).apply {
                    type = "image/png"
                    putExtra(Intent.EXTRA_STREAM, uri)
                    addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
                }
                runOnUiThread { startActivity(Intent.createChooser(send, getString(R.string.share))) }
            } catch (e: Exception) {
                runOnUiThread { status.text = "could not share the image: ${e.message}" }
            }
        })
    }

    companion object {
        const val SAMPLE = "sample.png"
        const val MAX_PIXELS = 1_000_000L
    }
}
